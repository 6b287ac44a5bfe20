/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Method routing and the built-in org.varlink.service interface. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "varlink-internal.h"

#define SERVICE_INTERFACE "org.varlink.service"

static const char service_idl[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# Client is denied access\n"
        "error PermissionDenied ()\n"
        "\n"
        "# Method is expected to be called with 'more' set to true, but wasn't\n"
        "error ExpectedMore ()\n";

static const VarlinkInterface *find_interface(VarlinkServer *s, const char *name, size_t n) {
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (strlen(s->interfaces[i].name) == n && strncmp(s->interfaces[i].name, name, n) == 0)
                        return &s->interfaces[i];
        return NULL;
}

/* Does some bound method belong to the interface name[0..n)? */
static bool interface_has_methods(VarlinkServer *s, const char *name, size_t n) {
        for (size_t i = 0; i < s->n_methods; i++) {
                const char *dot = strrchr(s->methods[i].name, '.');

                if ((size_t) (dot - s->methods[i].name) == n && strncmp(s->methods[i].name, name, n) == 0)
                        return true;
        }
        return false;
}

/* Does the IDL text declare "method <name>"? */
static bool idl_declares_method(const char *idl, const char *name) {
        size_t n = strlen(name);

        for (const char *l = idl; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                while (*l == ' ' || *l == '\t')
                        l++;
                if (strncmp(l, "method", 6) != 0 || !isspace((unsigned char) l[6]))
                        continue;
                for (l += 6; *l == ' ' || *l == '\t'; l++)
                        ;
                if (strncmp(l, name, n) == 0 && (l[n] == '(' || l[n] == ' ' || l[n] == '\t'))
                        return true;
        }
        return false;
}

static int add_string(json_object *o, const char *key, const char *value) {
        return json_object_object_add(o, key, json_object_new_string(strempty(value)));
}

static int array_add_unique(json_object *a, const char *s, size_t n) {
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(a, i));

                if (strlen(e) == n && strncmp(e, s, n) == 0)
                        return 0;
        }
        return json_object_array_add(a, json_object_new_string_len(s, (int) n));
}

static int method_get_info(VarlinkServer *s, Varlink *v, json_object *params) {
        static const VarlinkDispatchField table[] = { { .name = NULL } };
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        json_object *ifaces = json_object_new_array();
        int r;

        r = varlink_dispatch(v, params, table, NULL);
        if (r != 0) {
                json_object_put(ifaces);
                return r;
        }
        if (!reply || !ifaces || json_object_object_add(reply, "interfaces", ifaces) < 0) {
                json_object_put(ifaces);
                return -ENOMEM;
        }
        r = array_add_unique(ifaces, SERVICE_INTERFACE, strlen(SERVICE_INTERFACE));
        for (size_t i = 0; r >= 0 && i < s->n_interfaces; i++)
                r = array_add_unique(ifaces, s->interfaces[i].name, strlen(s->interfaces[i].name));
        for (size_t i = 0; r >= 0 && i < s->n_methods; i++)
                r = array_add_unique(ifaces, s->methods[i].name,
                                     (size_t) (strrchr(s->methods[i].name, '.') - s->methods[i].name));
        if (r < 0 || add_string(reply, "vendor", s->vendor) < 0 || add_string(reply, "product", s->product) < 0 ||
            add_string(reply, "version", s->version) < 0 || add_string(reply, "url", s->url) < 0)
                return -ENOMEM;
        return varlink_reply(v, reply);
}

static int error_with(Varlink *v, const char *error_id, const char *key, const char *value, size_t n) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, key, json_object_new_string_len(value, (int) n)) < 0)
                return -ENOMEM;
        return varlink_error(v, error_id, p);
}

static int method_get_interface_description(VarlinkServer *s, Varlink *v, json_object *params) {
        static const VarlinkDispatchField table[] = {
                { "interface", json_type_string, varlink_dispatch_const_string, 0, VARLINK_DISPATCH_MANDATORY },
                { .name = NULL }
        };
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        const VarlinkInterface *iface;
        const char *name = NULL, *idl;
        int r;

        r = varlink_dispatch(v, params, table, &name);
        if (r != 0)
                return r;
        iface = find_interface(s, name, strlen(name));
        idl = iface ? iface->idl : streq(name, SERVICE_INTERFACE) ? service_idl : NULL;
        if (!idl)
                return error_with(v, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", name, strlen(name));
        if (!reply || add_string(reply, "description", idl) < 0)
                return -ENOMEM;
        return varlink_reply(v, reply);
}

/* No bound method: tell which part of the name is unknown. */
static int method_missing(VarlinkServer *s, Varlink *v, const char *method) {
        const char *dot = strrchr(method, '.');
        size_t n = dot ? (size_t) (dot - method) : 0;
        const VarlinkInterface *iface = find_interface(s, method, n);

        if (!dot || (!iface && !interface_has_methods(s, method, n) &&
                     !(n == strlen(SERVICE_INTERFACE) && strncmp(method, SERVICE_INTERFACE, n) == 0)))
                return error_with(v, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", method, n);
        if (iface && idl_declares_method(iface->idl, dot + 1))
                return error_with(v, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, "method", method, strlen(method));
        return error_with(v, VARLINK_ERROR_METHOD_NOT_FOUND, "method", method, strlen(method));
}

int varlink_server_dispatch_call(VarlinkServer *s, Varlink *v, const VarlinkCallInfo *call) {
        if (streq(call->method, SERVICE_INTERFACE ".GetInfo"))
                return method_get_info(s, v, call->parameters);
        if (streq(call->method, SERVICE_INTERFACE ".GetInterfaceDescription"))
                return method_get_interface_description(s, v, call->parameters);
        for (size_t i = 0; i < s->n_methods; i++)
                if (streq(s->methods[i].name, call->method))
                        return s->methods[i].callback(v, call->parameters, call->flags, v->userdata);
        return method_missing(s, v, call->method);
}
