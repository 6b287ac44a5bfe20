/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libvirt's side of the engine's requests (shutdown, destroy, start, get_xml), as the daemon's
 * executor makes them: submitted at once, carried out by libvirtd later (it lands), and
 * the result reaches the engine later still (it is done). Between the three, anything
 * may happen: lifecycle events (a STARTED before the start's result), guests stopping by
 * themselves, libvirtd dying (what has not landed fails with -ENOTCONN), tdsleepd
 * crashing (what has not landed lands or not; no result ever comes), sleeps, aborts. */

#include <stdlib.h>
#include <string.h>

#include "sim-internal.h"

static const char *const closed_socket = "internal error: client socket is closed";

static int land_gone(SimEffect *e) {
        snprintf(e->error, sizeof(e->error), "%s", closed_socket);
        return -ENOTCONN;
}

/* An RPC error, with its words in e->error. */
static int land_fault(Sim *s, SimEffect *e, const char *words) {
        int r = sim_op_fault(s, e->op, words);

        if (r < 0)
                snprintf(e->error, sizeof(e->error), "%s", s->error_text);
        return r;
}

static int land_shutdown(Sim *s, SimEffect *e, SimDomain *d) {
        int r;

        if (e->lost || !s->libvirt_up)
                return land_gone(e);
        if ((r = land_fault(s, e, "Timed out during operation: cannot acquire state change lock")) < 0)
                return r;
        if (!d || !d->defined)
                return -ENOENT;
        if (!d->active)
                return -ESRCH;
        sim_check_destructive(s, d, "shutdown");
        d->shutdowns++;
        d->shutdown_pending = true;
        d->maybe_sent = d->reported_running = false;    /* a new request: ours again */
        d->shutdown_for_sleep = sim_logind_preparing(s) || (s->cycle && cycle_is_sleeping(s->cycle));
        d->shutdown_delivered_at = s->now;
        if (d->guest != SIM_GUEST_IGNORES && s->now + d->honour_usec < d->stop_at)
                d->stop_at = s->now + d->honour_usec;
        return 0;
}

static int land_destroy(Sim *s, SimEffect *e, SimDomain *d) {
        int r;

        if (e->lost || !s->libvirt_up)
                return land_gone(e);
        if ((r = land_fault(s, e, "Failed to terminate process 4242 with SIGKILL: Device or resource busy")) < 0)
                return r;
        if (!d || !d->defined)
                return -ENOENT;
        if (!d->active)
                return -ESRCH;
        sim_check_destructive(s, d, "destroy");
        d->destroys++;
        d->shutdown_for_sleep = d->shutdown_for_sleep || sim_logind_preparing(s) ||
                (s->cycle && cycle_is_sleeping(s->cycle));
        sim_domain_stopped(s, d, SIM_STOP_DESTROYED);
        return 0;
}

static int land_start(Sim *s, SimEffect *e, SimDomain *d) {
        char xml[512];
        int r;

        if (d) {
                sim_domain_xml(d, xml, sizeof(xml));
                d->start_calls++;
        }
        if (e->lost || !s->libvirt_up)
                return land_gone(e);
        if ((r = land_fault(s, e, "internal error: process exited while connecting to monitor")) < 0)
                return r;
        if (!d)
                return -ENOENT;
        if (d->active)
                return -EALREADY;
        if (e->persistent && !d->defined)
                return -ENOENT;
        if (!e->persistent && (!e->xml || !streq(e->xml, xml))) {
                snprintf(e->error, sizeof(e->error), "XML error: %s", e->xml ? "wrong XML" : "no XML");
                return -EIO;
        }
        if (d->start_failures > 0) {
                if (d->start_failures != UINT32_MAX)
                        d->start_failures--;
                snprintf(e->error, sizeof(e->error),
                         "Cannot access storage file '/srv/vm/%s.qcow2': No such file or directory", d->name);
                return -EIO;
        }
        sim_check_start(s, d);
        d->starts++;
        d->starts_in_cycle++;
        sim_domain_started(s, d);
        d->ambiguous = d->raced;        /* tdsleepd may take this run's events for the last one's */
        return 0;
}

/* The XML goes into e->xml, for the result. */
static int land_get_xml(Sim *s, SimEffect *e, SimDomain *d) {
        char xml[512];
        int r;

        if (e->lost || !s->libvirt_up)
                return land_gone(e);
        if ((r = land_fault(s, e, "internal error: cannot format XML")) < 0)
                return r;
        if (!d || !d->defined)
                return -ENOENT;
        sim_domain_xml(d, xml, sizeof(xml));
        free(e->xml);
        e->xml = strdup(xml);
        if (!e->xml)
                abort();
        return 0;
}

/* libvirtd carries the request out (or fails it). */
static void effect_land(Sim *s, SimEffect *e) {
        SimDomain *d = sim_find(s, e->uuid);

        e->landed = true;
        e->error[0] = '\0';
        e->result = e->op == SIM_OP_SHUTDOWN ? land_shutdown(s, e, d) :
                    e->op == SIM_OP_DESTROY ? land_destroy(s, e, d) :
                    e->op == SIM_OP_GET_XML ? land_get_xml(s, e, d) : land_start(s, e, d);
        sim_log(s, "%s %s lands -> %s", sim_op_to_string(e->op), d ? d->name : e->uuid,
                e->result < 0 ? STRERROR(e->result) : "ok");
}

static void effect_remove(Sim *s, unsigned i) {
        free(s->effects[i].xml);
        memmove(s->effects + i, s->effects + i + 1, (s->n_effects - i - 1) * sizeof(SimEffect));
        s->n_effects--;
}

/* The result reaches the engine. */
static void effect_done(Sim *s, unsigned i) {
        SimEffect e = s->effects[i];
        SimDomain *d = sim_find(s, e.uuid);

        s->effects[i].xml = NULL;       /* kept for the result, freed here */
        effect_remove(s, i);
        /* maybe_sent stays even when the request failed: the engine may still count an
         * earlier one (a record's "sent") as delivered, so a stop stays ambiguous. */
        sim_log(s, "tdsleepd: %s %s done -> %s", sim_op_to_string(e.op), d ? d->name : e.uuid,
                e.result < 0 ? STRERROR(e.result) : "ok");
        if (!s->cycle) {
                free(e.xml);
                return;
        }
        if (e.op == SIM_OP_GET_XML)
                cycle_on_xml_read(s->cycle, e.request, e.result, e.result >= 0 ? e.xml : NULL);
        else
                cycle_on_effect_done(s->cycle, e.request, e.result, e.error[0] ? e.error : NULL);
        free(e.xml);
        sim_engine_returned(s);
}

/* How long libvirtd takes to act, and its answer to come back: a stall now and then. */
static uint64_t effect_delay(Sim *s, SimOp op) {
        uint64_t usec;

        if (s->stall_next_op == op) {
                s->stall_next_op = _SIM_OP_NONE;
                sim_log(s, "libvirtd stalls %.1fs in %s", (double) s->stall_next_usec / USEC_PER_SEC,
                        sim_op_to_string(op));
                return s->stall_next_usec;
        }
        if (s->settling)
                return 0;
        if (sim_chance(s, s->cfg.stall_permille)) {
                usec = (1 + sim_rand(&s->src, 15)) * USEC_PER_SEC;
                sim_log(s, "libvirtd stalls %.1fs in %s", (double) usec / USEC_PER_SEC, sim_op_to_string(op));
                return usec;
        }
        return sim_rand(&s->src, 50) * USEC_PER_MSEC;
}

static int submit(Sim *s, SimOp op, uint64_t request, const char *uuid, const StateDomain *sd) {
        SimDomain *d;
        SimEffect *e;

        if (sim_op_enter(s, op))
                return 0;       /* crashed before it went: the engine is gone */
        d = sim_find(s, uuid);
        if (!s->libvirt_seen) {
                sim_log(s, "%s %s -> not submitted, libvirt is away", sim_op_to_string(op), d ? d->name : uuid);
                sim_op_leave(s);
                return -ENOTCONN;
        }
        assert_se(s->n_effects < SIM_EFFECTS_MAX);
        e = &s->effects[s->n_effects++];
        *e = (SimEffect) {
                .op = op,
                .request = request,
                .persistent = sd ? sd->persistent : false,
                .xml = sd && sd->xml ? strdup(sd->xml) : NULL,
        };
        snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
        e->land_at = s->now + effect_delay(s, op);
        e->done_at = e->land_at + (s->settling ? 0 : sim_rand(&s->src, 300) * USEC_PER_MSEC);
        if (d && IN_SET(op, SIM_OP_SHUTDOWN, SIM_OP_DESTROY))
                d->maybe_sent = true;   /* its stop may be this request's doing from now on */
        sim_log(s, "%s %s submitted", sim_op_to_string(op), d ? d->name : uuid);
        sim_op_leave(s);
        return 0;
}

int sim_submit_shutdown(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, SIM_OP_SHUTDOWN, request, uuid, NULL);
}

int sim_submit_destroy(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, SIM_OP_DESTROY, request, uuid, NULL);
}

int sim_submit_get_xml(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, SIM_OP_GET_XML, request, uuid, NULL);
}

int sim_submit_start(void *userdata, uint64_t request, const StateDomain *sd) {
        return submit(userdata, SIM_OP_START, request, sd->uuid, sd);
}

bool sim_request_in_flight(const Sim *s, const SimDomain *d) {
        for (unsigned i = 0; i < s->n_effects; i++)
                if (!s->effects[i].landed && !s->effects[i].lost && s->effects[i].op != SIM_OP_GET_XML &&
                    streq(s->effects[i].uuid, d->uuid))
                        return true;
        return false;
}

uint64_t sim_effect_next(const Sim *s, unsigned *ret_index) {
        uint64_t best = SIM_USEC_INFINITY;

        for (unsigned i = 0; i < s->n_effects; i++) {
                uint64_t at = s->effects[i].landed ? s->effects[i].done_at : s->effects[i].land_at;

                if (at < best) {
                        best = at;
                        *ret_index = i;
                }
        }
        return best;
}

void sim_effect_run(Sim *s, unsigned i) {
        if (!s->effects[i].landed)
                effect_land(s, &s->effects[i]);
        else
                effect_done(s, i);
}

/* libvirtd died: what it did not carry out is lost with the connection. */
void sim_effects_libvirt_lost(Sim *s) {
        for (unsigned i = 0; i < s->n_effects; i++)
                s->effects[i].lost = s->effects[i].lost || !s->effects[i].landed;
}

/* tdsleepd crashed: a request already on the wire is carried out, or not; no result
 * comes back to anyone. */
void sim_effects_crash(Sim *s) {
        while (s->n_effects > 0) {
                SimEffect *e = &s->effects[0];

                if (!e->landed && !e->lost && sim_rand(&s->src, 2))
                        effect_land(s, e);
                else if (!e->landed)
                        sim_log(s, "%s %s never reached libvirtd", sim_op_to_string(e->op), e->uuid);
                effect_remove(s, 0);
        }
}
