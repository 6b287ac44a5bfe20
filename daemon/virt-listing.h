/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Handles to the shut-off persistent domains on one connection, from one listing. A
 * handle belongs to the connection it came from, so a worker starting a domain on its
 * own connection (virt-pool.h) needs one there: a lookup per start doubles the RPCs of
 * a resume (measured with 1,000 test-driver TDs: +40 ms of a 160 ms floor), where one
 * listing per connection and resume serves every start on it. A handle names the domain
 * by uuid, which is how libvirtd finds it again, so a listed handle stays good for a
 * start while the domain is defined. Worker threads only; one holder at a time. */

#include <libvirt/libvirt.h>

typedef struct DomainListing DomainListing;

/* One RPC: every shut-off persistent domain on c. NULL: the listing failed (the caller
 * looks each domain up instead) or no memory. */
DomainListing *domain_listing_new(virConnectPtr c);
DomainListing *domain_listing_free(DomainListing *l);
/* A new reference to the listed handle of uuid; NULL: not listed (defined since, or
 * running then). */
virDomainPtr domain_listing_find(const DomainListing *l, const char *uuid);
