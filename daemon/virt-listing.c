/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handles from one listing (see virt-listing.h), sorted by uuid for the starts' lookups. */

#include <stdlib.h>
#include <strings.h>

#include "virt-listing.h"

typedef struct ListedDomain {
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainPtr dom;               /* the listing's reference */
} ListedDomain;

struct DomainListing {
        ListedDomain *domains;
        size_t n_domains;
};

static int compare_listed(const void *a, const void *b) {
        return strcasecmp(((const ListedDomain *) a)->uuid, ((const ListedDomain *) b)->uuid);
}

static int compare_key(const void *key, const void *b) {
        return strcasecmp(key, ((const ListedDomain *) b)->uuid);
}

static void free_handles(virDomainPtr *doms, int n) {
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
}

DomainListing *domain_listing_new(virConnectPtr c) {
        virDomainPtr *doms = NULL;
        DomainListing *l;
        int n;

        n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_INACTIVE |
                                     VIR_CONNECT_LIST_DOMAINS_PERSISTENT);
        if (n < 0)
                return NULL;
        l = calloc(1, sizeof(DomainListing));
        if (l)
                l->domains = calloc(n > 0 ? n : 1, sizeof(ListedDomain));
        if (!l || !l->domains) {
                free(l);
                free_handles(doms, n);
                return NULL;
        }
        for (int i = 0; i < n; i++) {
                ListedDomain *d = &l->domains[l->n_domains];

                if (virDomainGetUUIDString(doms[i], d->uuid) < 0) {
                        virDomainFree(doms[i]);         /* (libvirt fills it in without an RPC) */
                        continue;
                }
                d->dom = doms[i];
                l->n_domains++;
        }
        free(doms);
        qsort(l->domains, l->n_domains, sizeof(ListedDomain), compare_listed);
        return l;
}

DomainListing *domain_listing_free(DomainListing *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_domains; i++)
                virDomainFree(l->domains[i].dom);
        free(l->domains);
        free(l);
        return NULL;
}

virDomainPtr domain_listing_find(const DomainListing *l, const char *uuid) {
        const ListedDomain *d = l ? bsearch(uuid, l->domains, l->n_domains, sizeof(ListedDomain), compare_key) : NULL;

        if (!d || virDomainRef(d->dom) < 0)
                return NULL;
        return d->dom;
}
