/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads tdsleepd's cycle entries from the journal, as coredumpctl reads its own: match
 * on the MESSAGE_IDs, walk forward from --since, hand each entry's fields over. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "history-journal.h"
#include "output.h"

#define ENTRY_FIELDS_MAX 64

static int journal_open(const HistorySource *src, sd_journal **ret) {
        int r;

        if (src->directory)
                r = sd_journal_open_directory(ret, src->directory, 0);
        else if (src->files)
                r = sd_journal_open_files(ret, (const char **) src->files, 0);
        else
                r = sd_journal_open(ret, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return cli_error(r, "Failed to open the journal%s%s: %s", src->directory ? " in " : "",
                                 strempty(src->directory), STRERROR(r));
        return 0;
}

static int journal_match_cycles(sd_journal *j) {
        for (size_t i = 0; history_message_ids[i]; i++) {
                char match[64];
                int r;

                snprintf(match, sizeof match, "MESSAGE_ID=%s", history_message_ids[i]);
                r = sd_journal_add_match(j, match, 0);     /* the same field: any of them */
                if (r < 0)
                        return cli_error(r, "Failed to match the journal on %s: %s", match, STRERROR(r));
        }
        return 0;
}

static void fields_free(char **fields, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}

/* The current entry's fields as "KEY=value" strings, into history. */
static int journal_add_entry(sd_journal *j, History *h) {
        char *fields[ENTRY_FIELDS_MAX];
        const void *data;
        size_t len, n = 0;
        uint64_t realtime;
        int r;

        r = sd_journal_get_realtime_usec(j, &realtime);
        if (r < 0)
                return 0;       /* a damaged entry: skip it, like journalctl */
        sd_journal_restart_data(j);
        while (n < ENTRY_FIELDS_MAX && sd_journal_enumerate_available_data(j, &data, &len) > 0) {
                if (memcmp(data, "TDSLEEP_", MIN(len, 8)) != 0 && memcmp(data, "MESSAGE_ID=", MIN(len, 11)) != 0)
                        continue;       /* (the MESSAGE text and trusted fields are not needed) */
                fields[n] = strndup(data, len);
                if (!fields[n]) {
                        fields_free(fields, n);
                        return -ENOMEM;
                }
                n++;
        }
        r = history_add_entry(h, realtime, (const char *const *) fields, n);
        fields_free(fields, n);
        return r;
}

int history_read_journal(const HistorySource *src, History *ret) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        History h = { 0 };
        int r;

        r = journal_open(src, &j);
        if (r < 0)
                return r;
        r = journal_match_cycles(j);
        if (r < 0)
                return r;
        r = src->since_usec > 0 ? sd_journal_seek_realtime_usec(j, src->since_usec) : sd_journal_seek_head(j);
        if (r < 0)
                return cli_error(r, "Failed to seek in the journal: %s", STRERROR(r));
        while ((r = sd_journal_next(j)) > 0) {
                r = journal_add_entry(j, &h);
                if (r < 0) {
                        history_done(&h);
                        return cli_error(r, "Failed to read the journal: %s", STRERROR(r));
                }
        }
        if (r < 0) {
                history_done(&h);
                return cli_error(r, "Failed to read the journal: %s", STRERROR(r));
        }
        *ret = h;
        return 0;
}
