/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Prometheus text exposition format (version 0.0.4) of tdsleepd's metrics, made from
 * GetMetrics' "metrics" object as it comes over Varlink. One formatter for both readers:
 * tdsleepctl metrics prints it, tdsleepd writes it to MetricsTextfile=. */

#include <json-c/json.h>

/* The text for metrics (a Metrics object of io.tdsleep.Manager) in *ret (caller frees).
 * -EBADMSG when a field is missing or of the wrong type (nothing is returned then),
 * -ENOMEM. */
int metrics_format(json_object *metrics, char **ret);
