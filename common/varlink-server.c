/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Varlink server: settings, listening sockets, and accepting connections. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "varlink-internal.h"

int varlink_server_new(VarlinkServer **ret, VarlinkServerFlags flags) {
        VarlinkServer *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (VarlinkServer) {
                .n_ref = 1,
                .flags = flags,
                .connections_max = VARLINK_DEFAULT_CONNECTIONS_MAX,
                .connections_reserved = VARLINK_DEFAULT_CONNECTIONS_RESERVED,
                .connections_per_uid_max = VARLINK_DEFAULT_CONNECTIONS_PER_UID_MAX,
                .message_max = VARLINK_DEFAULT_MESSAGE_MAX,
                .output_max = VARLINK_DEFAULT_OUTPUT_MAX,
                .idle_timeout_usec = VARLINK_DEFAULT_IDLE_TIMEOUT_USEC,
        };
        *ret = s;
        return 0;
}

static VarlinkServer *varlink_server_free(VarlinkServer *s) {
        /* Disconnect callbacks may run: keep a reference while tearing down. */
        s->n_ref++;
        while (s->links)
                varlink_server_drop_link(s->links);
        (void) varlink_server_detach_event(s);
        for (size_t i = 0; i < s->n_listeners; i++)
                safe_close(s->listeners[i].fd);
        for (size_t i = 0; i < s->n_methods; i++)
                free(s->methods[i].name);
        for (size_t i = 0; i < s->n_interfaces; i++) {
                free(s->interfaces[i].name);
                free(s->interfaces[i].idl);
        }
        free(s->listeners);
        free(s->methods);
        free(s->interfaces);
        free(s->vendor);
        free(s->product);
        free(s->version);
        free(s->url);
        free(s);
        return NULL;
}

VarlinkServer *varlink_server_ref(VarlinkServer *s) {
        if (s)
                s->n_ref++;
        return s;
}

VarlinkServer *varlink_server_unref(VarlinkServer *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        return varlink_server_free(s);
}

static int replace_string(char **p, const char *value) {
        char *c = NULL;

        if (value && !(c = strdup(value)))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

int varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product,
                            const char *version, const char *url) {
        if (!s)
                return -EINVAL;
        if (replace_string(&s->vendor, vendor) < 0 || replace_string(&s->product, product) < 0 ||
            replace_string(&s->version, version) < 0 || replace_string(&s->url, url) < 0)
                return -ENOMEM;
        return 0;
}

int varlink_server_add_interface(VarlinkServer *s, const char *name, const char *idl) {
        VarlinkInterface *a;
        _cleanup_(freep) char *n = NULL, *t = NULL;

        if (!s || !name || !idl)
                return -EINVAL;
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (streq(s->interfaces[i].name, name))
                        return -EEXIST;
        n = strdup(name);
        t = strdup(idl);
        if (!n || !t)
                return -ENOMEM;
        a = realloc(s->interfaces, (s->n_interfaces + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        s->interfaces = a;
        s->interfaces[s->n_interfaces++] = (VarlinkInterface) { TAKE_PTR(n), TAKE_PTR(t) };
        return 0;
}

int varlink_server_bind_method(VarlinkServer *s, const char *method, varlink_method_t callback) {
        VarlinkMethod *a;
        _cleanup_(freep) char *n = NULL;

        if (!s || !method || !callback || !strchr(method, '.'))
                return -EINVAL;
        for (size_t i = 0; i < s->n_methods; i++)
                if (streq(s->methods[i].name, method))
                        return -EEXIST;
        n = strdup(method);
        if (!n)
                return -ENOMEM;
        a = realloc(s->methods, (s->n_methods + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        s->methods = a;
        s->methods[s->n_methods++] = (VarlinkMethod) { TAKE_PTR(n), callback };
        return 0;
}

int varlink_server_bind_disconnect(VarlinkServer *s, varlink_disconnect_t callback) {
        if (!s)
                return -EINVAL;
        s->disconnect = callback;
        return 0;
}

void *varlink_server_set_userdata(VarlinkServer *s, void *userdata) {
        void *old = s->userdata;

        s->userdata = userdata;
        return old;
}

void *varlink_server_get_userdata(VarlinkServer *s) {
        return s ? s->userdata : NULL;
}

int varlink_server_set_connections_max(VarlinkServer *s, unsigned m) {
        if (!s)
                return -EINVAL;
        s->connections_max = m > 0 ? m : VARLINK_DEFAULT_CONNECTIONS_MAX;
        return 0;
}

int varlink_server_set_message_max(VarlinkServer *s, size_t m) {
        if (!s)
                return -EINVAL;
        s->message_max = m > 0 ? m : VARLINK_DEFAULT_MESSAGE_MAX;
        return 0;
}

int varlink_server_set_output_max(VarlinkServer *s, size_t m) {
        if (!s)
                return -EINVAL;
        s->output_max = m > 0 ? m : VARLINK_DEFAULT_OUTPUT_MAX;
        return 0;
}

int varlink_server_set_connections_reserved(VarlinkServer *s, unsigned m) {
        if (!s)
                return -EINVAL;
        s->connections_reserved = m;
        return 0;
}

int varlink_server_set_connections_per_uid_max(VarlinkServer *s, unsigned m) {
        if (!s)
                return -EINVAL;
        s->connections_per_uid_max = m > 0 ? m : VARLINK_DEFAULT_CONNECTIONS_PER_UID_MAX;
        return 0;
}

int varlink_server_set_idle_timeout(VarlinkServer *s, uint64_t usec) {
        if (!s)
                return -EINVAL;
        s->idle_timeout_usec = usec > 0 ? usec : VARLINK_DEFAULT_IDLE_TIMEOUT_USEC;
        return 0;
}

unsigned varlink_server_current_connections(VarlinkServer *s) {
        return s ? s->n_links : 0;
}

int varlink_server_listen_fd(VarlinkServer *s, int fd) {
        VarlinkListener *a;
        int flags, r;

        if (!s || fd < 0)
                return -EINVAL;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        a = realloc(s->listeners, (s->n_listeners + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        s->listeners = a;
        s->listeners[s->n_listeners] = (VarlinkListener) { .fd = fd };
        r = varlink_listener_attach(s, &s->listeners[s->n_listeners]);
        if (r < 0)
                return r;       /* the caller still owns fd */
        s->n_listeners++;
        return 0;
}

/* Fill sa from "/path", "unix:/path" or "@abstract"; returns the address length. */
int varlink_sockaddr_from_address(const char *address, struct sockaddr_un *sa, socklen_t *ret_len) {
        size_t n;

        if (strncmp(address, "unix:", 5) == 0)
                address += 5;
        n = strlen(address);
        if (n == 0 || n >= sizeof(sa->sun_path) || (address[0] != '/' && address[0] != '@'))
                return -EINVAL;
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(sa->sun_path, address, n);
        if (address[0] == '@')
                sa->sun_path[0] = '\0';
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (address[0] == '/'));
        return 0;
}

int varlink_server_listen_address(VarlinkServer *s, const char *address, mode_t mode) {
        _cleanup_(closep) int fd = -1;
        struct sockaddr_un sa;
        socklen_t len;
        mode_t old;
        int r;

        if (!s || !address)
                return -EINVAL;
        r = varlink_sockaddr_from_address(address, &sa, &len);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sa.sun_path[0] != '\0')
                (void) unlink(sa.sun_path);
        old = umask(~mode & 0777);
        r = bind(fd, (struct sockaddr *) &sa, len) < 0 ? -errno : 0;
        umask(old);
        if (r < 0)
                return r;
        if (sa.sun_path[0] != '\0' && chmod(sa.sun_path, mode) < 0)
                return -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        r = varlink_server_listen_fd(s, fd);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

int varlink_server_attach_event(VarlinkServer *s, sd_event *event, int64_t priority) {
        int r;

        if (!s)
                return -EINVAL;
        if (s->event)
                return -EBUSY;
        if (event)
                s->event = sd_event_ref(event);
        else {
                r = sd_event_default(&s->event);
                if (r < 0)
                        return r;
        }
        s->priority = priority;
        for (size_t i = 0; i < s->n_listeners; i++) {
                r = varlink_listener_attach(s, &s->listeners[i]);
                if (r < 0)
                        goto fail;
        }
        for (Varlink *v = s->links; v; v = v->next) {
                r = varlink_link_attach_sources(s, v);
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        (void) varlink_server_detach_event(s);
        return r;
}

int varlink_server_detach_event(VarlinkServer *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < s->n_listeners; i++)
                s->listeners[i].source = sd_event_source_disable_unref(s->listeners[i].source);
        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
        for (Varlink *v = s->links; v; v = v->next) {
                v->io_source = sd_event_source_disable_unref(v->io_source);
                v->time_source = sd_event_source_disable_unref(v->time_source);
                v->defer_source = sd_event_source_disable_unref(v->defer_source);
        }
        s->event = sd_event_unref(s->event);
        return 0;
}
