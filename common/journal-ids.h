/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The journal's MESSAGE_IDs of tdsleepd (bare 128-bit ids), shared by the daemon, which
 * logs them (daemon/messages.h), and tdsleepctl history, which reads them back. Each has
 * an entry in units/tdsleep.catalog, and tdsleep.journal-fields(7) lists them. Never
 * change one. */

/* A cycle: its start, the end of its prepare, its end, and one entry per TD at the end. */
#define ID_CYCLE_STARTED        "7bbe9452490942e2a72fcb9e13e7aba4"
#define ID_LOCK_RELEASED        "1f42c0172d5443389abde36cb3f174db"
#define ID_DRAINED              "c1c43a99303d4c8888e3f7f5dd29cb66"
#define ID_RESTORE              "6aae4453a26646238e73cfa09f139698"
#define ID_CYCLE_DONE           "1b25a870f43c4ff7a51ea13ac6c4960f"
#define ID_TD_OUTCOME           "1fe37788eef84d0b9f1fe1a168c2c34a"

/* A TD while the cycle goes on. */
#define ID_TD_STOPPED           "a4c3437676b1448ab58a1f295302ee23"
#define ID_TD_FORCED_OFF        "9a99bb8ab0114fbbabeb41dbb4aeae3b"
#define ID_TD_LEFT_RUNNING      "be61cf98180e4392b4a00e7d9943b09c"
#define ID_TD_STARTED           "9cb3172a4601425882d4f25544ea77c0"
#define ID_TD_START_FAILED      "7c62408416bc4becb0a4861b3ae75084"

/* The host and the operator. */
#define ID_SLEEP_REFUSED        "1285b66fc73f49609f63501b8130c950"
#define ID_RECORD_DEGRADED      "433c33d3fc374336a57488fe8cf8ba7d"
#define ID_RECORD_EARLIER_BOOT  "0accbde1aafa4946b1f240938a8890e5"
#define ID_HOLD                 "9fe0302d66be43a183d106b706fa4cb2"
#define ID_RELEASE              "91826cdd99cf4606ac427dd78093035f"
#define ID_KERNEL_POLICY        "2e9fc507804b4203b0883167a415623d"
#define ID_CPU_PACKAGE_EMPTIED  "9b0d9e6d4bb34caf8e7d2533211b0c85"
/* Stopping the TDs may take longer than logind waits (the budget, daemon/manager-budget.c),
 * and what a prepare did about it. */
#define ID_BUDGET_EXCEEDED      "dbcb4555cace42cc8f5a77643bc3b948"
#define ID_BUDGET_PREPARE       "920c04e5d3784c7d9249a227b0e94f5e"
