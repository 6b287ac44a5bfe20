/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A pager for long human output, as systemctl uses one: only when stdout is a terminal
 * that is not dumb. Which: $TDSLEEP_PAGER, else $SYSTEMD_PAGER, else $PAGER, else less,
 * else more; "" or "cat" means none. less gets $SYSTEMD_LESS, else "FRSXMK" (quit at
 * the end of one screen, colours through). Secure mode ($SYSTEMD_PAGERSECURE true, or
 * unset under sudo or pkexec) runs only less, with LESSSECURE=1. */

/* Start the pager and point stdout at it: 1 if one runs, 0 if none is wanted or possible. */
int pager_open(void);
/* Flush stdout to the pager, give it the end of the input, wait until the user leaves it. */
void pager_close(void);
