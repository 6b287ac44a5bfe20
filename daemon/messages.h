/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Journal MESSAGE_IDs of the events an operator looks for (see the catalog file). */

#define MESSAGE_CYCLE_STARTED   "MESSAGE_ID=7bbe9452490942e2a72fcb9e13e7aba4"
#define MESSAGE_TD_STOPPED      "MESSAGE_ID=a4c3437676b1448ab58a1f295302ee23"
#define MESSAGE_TD_FORCED_OFF   "MESSAGE_ID=9a99bb8ab0114fbbabeb41dbb4aeae3b"
#define MESSAGE_TD_LEFT_RUNNING "MESSAGE_ID=be61cf98180e4392b4a00e7d9943b09c"
#define MESSAGE_LOCK_RELEASED   "MESSAGE_ID=1f42c0172d5443389abde36cb3f174db"
#define MESSAGE_TD_STARTED      "MESSAGE_ID=9cb3172a4601425882d4f25544ea77c0"
#define MESSAGE_TD_START_FAILED "MESSAGE_ID=7c62408416bc4becb0a4861b3ae75084"
#define MESSAGE_SLEEP_REFUSED   "MESSAGE_ID=1285b66fc73f49609f63501b8130c950"
#define MESSAGE_CYCLE_DONE      "MESSAGE_ID=1b25a870f43c4ff7a51ea13ac6c4960f"
#define MESSAGE_RECORD_DEGRADED "MESSAGE_ID=433c33d3fc374336a57488fe8cf8ba7d"
#define MESSAGE_RECORD_EARLIER_BOOT "MESSAGE_ID=0accbde1aafa4946b1f240938a8890e5"
/* Stopping the TDs may take longer than logind (or the sleep hook) waits: at start-up and
 * on every change of the domain set, once per change of the outcome. */
#define MESSAGE_BUDGET_EXCEEDED "MESSAGE_ID=dbcb4555cace42cc8f5a77643bc3b948"
/* What a prepare did because its stops would not fit: s2idle, shorter windows, or none. */
#define MESSAGE_BUDGET_PREPARE  "MESSAGE_ID=920c04e5d3784c7d9249a227b0e94f5e"
