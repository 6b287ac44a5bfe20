/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The structures behind Varlink and VarlinkServer, shared by varlink-*.c only. */

#include <sys/socket.h>
#include <sys/un.h>

#include "varlink-message.h"
#include "varlink.h"

typedef enum VarlinkState {
        VARLINK_IDLE,                   /* server: waiting for a call; client: no call open */
        VARLINK_PROCESSING,             /* server: a call awaits its reply */
        VARLINK_PROCESSING_MORE,        /* server: a "more" call is streaming */
        VARLINK_PROCESSING_ONEWAY,      /* server: inside a oneway callback */
        VARLINK_AWAITING_MORE,          /* client: an observed call is streaming */
        VARLINK_DISCONNECTED,
} VarlinkState;

struct Varlink {
        unsigned n_ref;
        int fd;
        VarlinkState state;

        VarlinkServer *server;          /* weak; NULL for clients and once disconnected */
        Varlink *prev, *next;           /* in server->links */

        VarlinkBuffer input, output;
        size_t input_max, output_max;

        json_object *current;           /* server: the call being processed */
        const char *current_method;     /* borrowed from current */
        json_object *reply;             /* client: the last reply, handed out borrowed */

        struct ucred ucred;
        bool ucred_valid;
        gid_t *groups;                  /* SO_PEERGROUPS: the peer's supplementary groups */
        size_t n_groups;
        bool groups_valid;
        void *userdata;

        sd_event_source *io_source, *time_source, *defer_source;
        uint64_t idle_since;            /* CLOCK_MONOTONIC usec since when no call is in progress */
        uint64_t timeout_usec;          /* client: per reply */
        bool read_eof, close_after_flush;
};

typedef struct VarlinkMethod {
        char *name;
        varlink_method_t callback;
} VarlinkMethod;

typedef struct VarlinkInterface {
        char *name, *idl;
} VarlinkInterface;

typedef struct VarlinkListener {
        int fd;
        sd_event_source *source;
} VarlinkListener;

struct VarlinkServer {
        unsigned n_ref;
        VarlinkServerFlags flags;
        void *userdata;

        sd_event *event;
        int64_t priority;

        VarlinkListener *listeners;
        size_t n_listeners;
        VarlinkMethod *methods;
        size_t n_methods;
        VarlinkInterface *interfaces;
        size_t n_interfaces;
        varlink_disconnect_t disconnect;

        Varlink *links;
        unsigned n_links;

        unsigned connections_max, connections_reserved, connections_per_uid_max;
        size_t message_max, output_max;
        uint64_t idle_timeout_usec;
        sd_event_source *accept_retry;  /* listeners paused after EMFILE */

        char *vendor, *product, *version, *url;
};

/* varlink-link.c */
int varlink_new(Varlink **ret, int fd);
int varlink_enqueue(Varlink *v, json_object *msg);
int varlink_write(Varlink *v);
int varlink_read(Varlink *v);
void varlink_kick(Varlink *v);
void varlink_end_call(Varlink *v);

/* varlink-server.c: fill sa from "/path", "unix:/path" or "@abstract". */
int varlink_sockaddr_from_address(const char *address, struct sockaddr_un *sa, socklen_t *ret_len);

/* varlink-accept.c: watch a listening socket for connections to admit. */
int varlink_listener_attach(VarlinkServer *s, VarlinkListener *l);

/* varlink-connection.c */
void varlink_server_drop_link(Varlink *v);
int varlink_link_attach_sources(VarlinkServer *s, Varlink *v);

/* varlink-service.c: run the call in v->current (built-in or bound method). */
int varlink_server_dispatch_call(VarlinkServer *s, Varlink *v, const VarlinkCallInfo *call);
