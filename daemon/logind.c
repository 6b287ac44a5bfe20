/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "logind-internal.h"

/* Keep the delay lock in systemd's fd store: if tdsleepd crashes mid-cycle, the lock
 * survives the restart instead of letting the host sleep with TDs running. */
static void delay_fdstore_put(int fd) {
        if (getenv("NOTIFY_SOCKET"))
                (void) sd_pid_notify_with_fds(0, false, "FDSTORE=1\nFDNAME=" DELAY_FDNAME, &fd, 1);
}

static void delay_fdstore_remove(void) {
        if (getenv("NOTIFY_SOCKET"))
                (void) sd_notify(false, "FDSTOREREMOVE=1\nFDNAME=" DELAY_FDNAME);
}

bool logind_has_delay(const Logind *l) {
        return l->delay_fd >= 0;
}

bool logind_is_present(const Logind *l) {
        return l->present;
}

bool logind_locks_known(const Logind *l) {
        return l->present && l->locks_checked;
}

uint64_t logind_inhibit_delay_max_usec(const Logind *l) {
        return l->inhibit_delay_max_usec;
}

void logind_adopt_delay_fd(Logind *l, int fd) {
        l->delay_fd = safe_close(l->delay_fd);
        l->delay_fd = fd;
        log_info("Kept the sleep delay lock across the restart");
}

void logind_release_delay(Logind *l) {
        l->delay_call = sd_bus_slot_unref(l->delay_call);
        if (l->delay_fd < 0)
                return;
        delay_fdstore_remove();
        l->delay_fd = safe_close(l->delay_fd);
        log_info("Released the sleep delay lock");
        l->cb->on_locks(l->userdata);
}

/* The reply to Inhibit() carries the lock as an fd; it lives until we close our copy. */
int logind_read_inhibit_fd(sd_bus_message *reply, int *ret_fd) {
        int fd, r;

        if (sd_bus_message_is_method_error(reply, NULL))
                return -sd_bus_message_get_errno(reply);
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

static int on_delay_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        int fd = -1, r;

        l->delay_call = sd_bus_slot_unref(l->delay_call);
        r = logind_read_inhibit_fd(reply, &fd);
        if (r < 0) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                log_error_errno(r, "Failed to take the sleep delay lock: %s", e ? e->message : strerror(-r));
                return 0;
        }
        safe_close(l->delay_fd);
        l->delay_fd = fd;
        delay_fdstore_put(fd);
        log_info("Took the sleep delay lock");
        l->cb->on_locks(l->userdata);
        return 0;
}

int logind_call_inhibit(Logind *l, const char *why, const char *mode, sd_bus_message_handler_t cb,
                        sd_bus_slot **ret_slot) {
        return sd_bus_call_method_async(l->bus, ret_slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                        "Inhibit", cb, l, "ssss", "sleep", "tdsleepd", why, mode);
}

int logind_take_delay(Logind *l) {
        int r;

        if (l->delay_fd >= 0 || l->delay_call || !l->present)
                return 0;
        r = logind_call_inhibit(l, "Stopping trust domains (TDX) that do not survive S3/S4", "delay",
                         on_delay_reply, &l->delay_call);
        if (r < 0)
                return log_error_errno(r, "Failed to ask logind for the sleep delay lock: %s", STRERROR(r));
        /* Make sure the request is on the wire before any slow resume work starts. */
        (void) sd_bus_flush(l->bus);
        return 0;
}

/* ---- logind's signals and presence ---- */

static void logind_check_locks(Logind *l);

/* logind is there and we know which of our locks it holds: tell the manager. */
static void logind_locks_checked(Logind *l) {
        l->locks_checked = true;
        l->cb->on_presence(l->userdata, true, l->preparing_for_sleep);
}

static int on_prepare_for_sleep(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        int start, r;

        r = sd_bus_message_read(m, "b", &start);
        if (r < 0) {
                log_warning_errno(r, "Malformed PrepareForSleep signal, ignoring: %s", STRERROR(r));
                return 0;
        }
        l->preparing_for_sleep = start;
        l->cb->on_prepare_for_sleep(l->userdata, start);
        return 0;
}

/* Which of our locks does this logind know? The reply lists (what, who, why, mode, uid, pid).
 * Of the block locks: how many, and the why of the last (only valid during the callback). */
static void inhibitors_known(sd_bus_message *reply, bool *ret_delay, unsigned *ret_n_block,
                             const char **ret_block_why) {
        const char *what, *who, *why, *mode;
        uint32_t uid, pid;
        int r;

        *ret_delay = false;
        *ret_n_block = 0;
        *ret_block_why = NULL;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssuu)");
        while (r > 0 && (r = sd_bus_message_read(reply, "(ssssuu)", &what, &who, &why, &mode, &uid, &pid)) > 0) {
                if (!streq(who, "tdsleepd") || !strstr(what, "sleep"))
                        continue;
                *ret_delay = *ret_delay || streq(mode, "delay");
                if (streq(mode, "block")) {
                        (*ret_n_block)++;
                        *ret_block_why = why;
                }
        }
}

static int on_list_inhibitors(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        const char *block_why = NULL;
        unsigned n_block = 0;
        bool delay = false;

        l->list_call = sd_bus_slot_unref(l->list_call);
        if (!sd_bus_message_is_method_error(reply, NULL))
                inhibitors_known(reply, &delay, &n_block, &block_why);
        /* A lock this logind does not list is a dead pipe: drop it, so it is taken again. */
        if (l->delay_fd >= 0 && !delay) {
                log_notice("logind does not know our delay lock any more: taking it again");
                delay_fdstore_remove();
                l->delay_fd = safe_close(l->delay_fd);
        }
        if (l->block_fd >= 0 && n_block == 0) {
                log_notice("logind does not know our block lock any more: taking it again");
                logind_block_forget(l);
        }
        if ((l->delay_fd >= 0 && delay) || (l->block_fd >= 0 && n_block > 0))
                log_info("logind kept our locks across its restart");
        if (l->block_fd >= 0)
                logind_block_listed(l, n_block, block_why);
        /* systemd drops a stored fd that reported an error, as the lock's pipe did while
         * logind was away: store it again, so that it still outlives a crash. (The block
         * lock is stored with FDPOLL=0: systemd keeps it whatever the pipe says.) */
        if (l->delay_fd >= 0 && delay) {
                delay_fdstore_remove();
                delay_fdstore_put(l->delay_fd);
        }
        logind_locks_checked(l);
        return 0;
}

/* After logind (re)appeared: logind restores inhibitors from /run/systemd/inhibit when
 * it restarts, so our locks may still hold. Ask, and keep the ones it lists. */
static void logind_check_locks(Logind *l) {
        int r;

        l->list_call = sd_bus_slot_unref(l->list_call);
        if (l->delay_fd < 0 && l->block_fd < 0) {
                logind_locks_checked(l);
                return;
        }
        r = sd_bus_call_method_async(l->bus, &l->list_call, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                     "ListInhibitors", on_list_inhibitors, l, "");
        if (r < 0) {
                log_warning_errno(r, "Failed to list logind's inhibitors: %s", STRERROR(r));
                logind_locks_checked(l);
        }
}

static int on_properties(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        uint64_t delay = 0;
        int preparing = 0, r;

        l->props_call = sd_bus_slot_unref(l->props_call);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_warning("Failed to read logind's properties: %s", sd_bus_message_get_error(reply)->message);
                logind_check_locks(l);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        break;
                if (streq(name, "InhibitDelayMaxUSec"))
                        r = sd_bus_message_read(reply, "v", "t", &delay);
                else if (streq(name, "PreparingForSleep"))
                        r = sd_bus_message_read(reply, "v", "b", &preparing);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        break;
                r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to parse logind's properties: %s", STRERROR(r));
        l->inhibit_delay_max_usec = delay;
        l->preparing_for_sleep = preparing;
        logind_check_locks(l);
        return 0;
}

static void logind_appeared(Logind *l) {
        int r;

        l->present = true;
        l->locks_checked = false;
        log_info("logind is available");
        l->props_call = sd_bus_slot_unref(l->props_call);
        r = sd_bus_call_method_async(l->bus, &l->props_call, LOGIND_SERVICE, LOGIND_PATH,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_properties, l,
                                     "s", LOGIND_MANAGER);
        if (r < 0) {
                log_warning_errno(r, "Failed to ask for logind's properties: %s", STRERROR(r));
                logind_check_locks(l);
        }
}

static void logind_vanished(Logind *l) {
        bool block_pending = l->block_call;

        l->present = false;
        l->locks_checked = false;
        l->delay_call = sd_bus_slot_unref(l->delay_call);
        l->block_call = sd_bus_slot_unref(l->block_call);
        l->block_call_why = mfree(l->block_call_why);
        l->props_call = sd_bus_slot_unref(l->props_call);
        l->list_call = sd_bus_slot_unref(l->list_call);
        /* Keep the locks: logind restores its inhibitors from /run/systemd/inhibit when it
         * restarts, and closing them now would leave no lock at all in between. Whether
         * the new instance knows them is checked when it is back (logind_check_locks). */
        log_warning("logind went away; keeping our locks, and checking them when it is back");
        /* A block lock asked for and not granted will not be: say so (a Hold waits). */
        if (block_pending && l->cb->on_block_result)
                l->cb->on_block_result(l->userdata, -ESHUTDOWN);
        l->cb->on_presence(l->userdata, false, false);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, LOGIND_SERVICE))
                return 0;
        if (l->present && !isempty(old_owner))
                logind_vanished(l);
        if (!isempty(new_owner))
                logind_appeared(l);
        return 0;
}

static int on_get_name_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;

        l->owner_call = sd_bus_slot_unref(l->owner_call);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_warning("logind is not running yet; waiting for it");
                return 0;
        }
        if (!l->present)
                logind_appeared(l);
        return 0;
}

int logind_start(Logind *l) {
        int r;

        r = sd_bus_match_signal(l->bus, &l->prepare_match, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                "PrepareForSleep", on_prepare_for_sleep, l);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to PrepareForSleep: %s", STRERROR(r));
        r = sd_bus_match_signal(l->bus, &l->owner_match, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, l);
        if (r < 0)
                return log_error_errno(r, "Failed to watch logind's bus name: %s", STRERROR(r));
        r = sd_bus_call_method_async(l->bus, &l->owner_call, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetNameOwner", on_get_name_owner, l,
                                     "s", LOGIND_SERVICE);
        if (r < 0)
                return log_error_errno(r, "Failed to look for logind: %s", STRERROR(r));
        return 0;
}

int logind_new(sd_bus *bus, const LogindCallbacks *cb, void *userdata, Logind **ret) {
        Logind *l = calloc(1, sizeof(Logind));

        if (!l)
                return -ENOMEM;
        l->cb = cb;
        l->userdata = userdata;
        l->bus = sd_bus_ref(bus);
        l->delay_fd = l->block_fd = -1;
        l->block_store = (FdStoreSlot) FDSTORE_SLOT_INIT(BLOCK_FDNAME, BLOCK_FDNAME_2);
        *ret = l;
        return 0;
}

Logind *logind_free(Logind *l) {
        if (!l)
                return NULL;
        sd_bus_slot_unref(l->delay_call);
        sd_bus_slot_unref(l->block_call);
        sd_bus_slot_unref(l->prepare_match);
        sd_bus_slot_unref(l->owner_match);
        sd_bus_slot_unref(l->owner_call);
        sd_bus_slot_unref(l->props_call);
        sd_bus_slot_unref(l->list_call);
        safe_close(l->delay_fd);
        safe_close(l->block_fd);
        fdstore_slot_done(&l->block_store);     /* systemd keeps its copies (a crash, or a stop) */
        free(l->block_why);
        free(l->block_call_why);
        sd_bus_unref(l->bus);
        free(l);
        return NULL;
}
