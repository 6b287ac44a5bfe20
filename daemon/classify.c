/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <string.h>

#include "classify.h"
#include "macros.h"
#include "parse-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc)
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlParserCtxtPtr, xmlFreeParserCtxt)

static void xml_freep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}

static bool node_is(const xmlNode *n, const char *name, const char *ns_href) {
        if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, (const xmlChar *) name))
                return false;
        if (!ns_href)
                return !n->ns;
        return n->ns && xmlStrEqual(n->ns->href, (const xmlChar *) ns_href);
}

static xmlNode *child_element(xmlNode *parent, const char *name) {
        for (xmlNode *n = parent->children; n; n = n->next)
                if (node_is(n, name, NULL))
                        return n;
        return NULL;
}

/* libvirt keeps each application's metadata as a child of <metadata>, but search the
 * whole subtree: the element may sit anywhere below /domain/metadata. */
static xmlNode *find_metadata(xmlNode *parent) {
        for (xmlNode *n = parent->children; n; n = n->next) {
                xmlNode *found;

                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (node_is(n, "domain", TDSLEEP_METADATA_NS))
                        return n;
                found = find_metadata(n);
                if (found)
                        return found;
        }
        return NULL;
}

static DomainKind classify_launch_security(xmlNode *root) {
        _cleanup_(xml_freep) xmlChar *type = NULL;
        xmlNode *ls = child_element(root, "launchSecurity");
        DomainKind k;

        if (!ls)
                return DOMAIN_KIND_NONE;
        type = xmlGetNoNsProp(ls, (const xmlChar *) "type");
        if (!type)
                return DOMAIN_KIND_NONE;
        k = domain_kind_from_string((const char *) type);
        /* Other kinds of launch security (s390-pv, ...) are not ours to protect. */
        return k < 0 ? DOMAIN_KIND_NONE : k;
}

static int metadata_attribute(DomainPolicy *p, const char *name, const char *value, char **ret_error) {
        int r;

        if (streq(name, "trust-domain")) {
                r = parse_boolean(value);
                if (r < 0)
                        return error_message(ret_error, -EINVAL,
                                             "tdsleep metadata: trust-domain='%s': expected yes or no", value);
                p->trust_domain = r;
        } else if (streq(name, "on-deep-sleep")) {
                p->on_deep_sleep = sleep_action_from_string(value);
                if (p->on_deep_sleep < 0)
                        return error_message(ret_error, -EINVAL,
                                             "tdsleep metadata: on-deep-sleep='%s': expected stop, s2idle or refuse",
                                             value);
        } else if (streq(name, "shutdown-timeout")) {
                if (parse_timeout(value, &p->shutdown_timeout_usec) < 0)
                        return error_message(ret_error, -EINVAL,
                                             "tdsleep metadata: shutdown-timeout='%s': expected seconds > 0 and "
                                             "<= 3600, or a time span such as 500ms, 2s or 1min", value);
        } else
                /* Strict: a misspelt attribute would silently lose the operator's policy. */
                return error_message(ret_error, -EINVAL, "tdsleep metadata: unknown attribute '%s'", name);
        return 0;
}

static int classify_metadata(xmlNode *root, DomainPolicy *p, char **ret_error) {
        xmlNode *metadata = child_element(root, "metadata"), *md;

        if (!metadata)
                return 0;
        md = find_metadata(metadata);
        if (!md)
                return 0;
        for (xmlAttr *a = md->properties; a; a = a->next) {
                _cleanup_(xml_freep) xmlChar *value = NULL;
                int r;

                if (a->ns)      /* xmlns:*, xml:lang, other applications' attributes */
                        continue;
                value = xmlNodeListGetString(md->doc, a->children, 1);
                if (!value)
                        value = xmlStrdup((const xmlChar *) "");
                if (!value)
                        return -ENOMEM;
                r = metadata_attribute(p, (const char *) a->name, (const char *) value, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_domain_xml(const char *xml, xmlDocPtr *ret, char **ret_error) {
        _cleanup_(xmlFreeParserCtxtp) xmlParserCtxtPtr ctxt = NULL;
        size_t len = strlen(xml);
        const xmlError *e;
        xmlDocPtr doc;

        if (len > INT32_MAX)
                return error_message(ret_error, -EINVAL, "domain XML too large");
        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        /* No XML_PARSE_NOENT (entities stay unexpanded), no DTD loading, no network. */
        doc = xmlCtxtReadMemory(ctxt, xml, (int) len, "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                e = xmlCtxtGetLastError(ctxt);
                if (!e || !e->message)
                        return error_message(ret_error, -EINVAL, "malformed domain XML");
                return error_message(ret_error, -EINVAL, "malformed domain XML, line %d: %.*s", e->line,
                                     (int) strcspn(e->message, "\n"), e->message);
        }
        *ret = doc;
        return 0;
}

int classify_domain_xml(const char *xml, DomainPolicy *ret, char **ret_error) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        DomainPolicy p = {
                .kind = DOMAIN_KIND_NONE,
                .trust_domain = -1,
                .on_deep_sleep = _SLEEP_ACTION_INVALID,
        };
        DomainPolicy meta;
        xmlNode *root;
        int r;

        *ret = p;
        r = parse_domain_xml(xml, &doc, ret_error);
        if (r < 0)
                return r;
        /* libvirt never writes a DOCTYPE; one here could only smuggle in entities. */
        if (doc->intSubset || doc->extSubset)
                return error_message(ret_error, -EINVAL, "domain XML must not have a DOCTYPE");
        root = xmlDocGetRootElement(doc);
        if (!root || !node_is(root, "domain", NULL))
                return error_message(ret_error, -EINVAL, "domain XML: root element is not <domain>");
        p.kind = classify_launch_security(root);
        *ret = p;
        meta = p;
        r = classify_metadata(root, &meta, ret_error);
        if (r < 0)
                return r;
        *ret = meta;
        return 0;
}

bool domain_policy_is_protected(const DomainPolicy *p, unsigned protected_kinds) {
        if (p->trust_domain >= 0)
                return p->trust_domain;
        return p->kind != DOMAIN_KIND_NONE && (protected_kinds & DOMAIN_KIND_MASK(p->kind));
}

SleepAction domain_policy_action(const DomainPolicy *p, const Config *c) {
        return p->on_deep_sleep >= 0 ? p->on_deep_sleep : c->on_deep_sleep;
}

uint64_t domain_policy_timeout_usec(const DomainPolicy *p, const Config *c) {
        return p->shutdown_timeout_usec > 0 ? p->shutdown_timeout_usec : c->shutdown_timeout_usec;
}
