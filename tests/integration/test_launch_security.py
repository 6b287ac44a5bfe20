# SPDX-License-Identifier: LGPL-2.1-or-later
"""TDs as libvirt itself describes them: <launchSecurity type='tdx'> (and 'sev-snp'),
defined in libvirt's test driver and read back by tdsleepd from the XML libvirt returns.

libvirt 9.0 (Debian 12) rejects type='tdx'; these tests skip there and run in the
modern tier (Debian 13 with libvirt 12.9 from trixie-backports, tests/modern)."""
import re
import unittest

import tdsleeptest
from tdsleeptest import TDSleepTestCase, config_text, now

TDX = "<launchSecurity type='tdx'><policy>0x10000000</policy></launchSecurity>"
SEV_SNP = "<launchSecurity type='sev-snp'><policy>0x00030000</policy></launchSecurity>"
SEV = tdsleeptest.SEV_XML


def domain_xml(name, launch_security="", meta=""):
    """No tdsleep metadata unless meta: the kind comes from launchSecurity alone."""
    return """<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  {meta}
  <os><type arch='x86_64'>hvm</type></os>
  {ls}
</domain>""".format(name=name, meta=meta, ls=launch_security)


class LaunchSecurity(TDSleepTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import libvirt
        cls.accepts = {}
        for kind, xml in (("tdx", TDX), ("sev-snp", SEV_SNP)):
            try:
                d = cls.lv.test.defineXML(domain_xml("probe-" + kind, xml))
                back = d.XMLDesc(0)
                d.undefine()
                cls.accepts[kind] = "type='%s'" % kind in back or 'type="%s"' % kind in back
            except libvirt.libvirtError as e:
                cls.accepts[kind] = False
                tdsleeptest.log("libvirt %s rejects launchSecurity %s: %s" % (
                    libvirt.getVersion(), kind, e))
        if not cls.accepts["tdx"]:
            raise unittest.SkipTest("libvirt %d's test driver rejects <launchSecurity type='tdx'> "
                                    "(the modern tier runs this with libvirt 12.9)" % libvirt.getVersion())

    def define(self, name, launch_security="", meta="", start=True, transient=False):
        xml = domain_xml(name, launch_security, meta)
        if transient:
            dom = self.lv.test.createXML(xml, 0)
        else:
            dom = self.lv.test.defineXML(xml)
            if start:
                dom.create()
        self._test_domains.append(name)
        if transient or start:      # as define_test_domain: no setup event after a mark
            self.events.wait(name, "STARTED", 10)
        return dom

    def list_domains(self, d):
        r = tdsleeptest.varlink_call(d.ctl_socket, "io.tdsleep.Manager.ListDomains")
        return {x["name"]: x for x in r[-1]["parameters"]["domains"]}

    def cycle(self, stopped, running, timeout=20):
        """PrepareForSleep(true): exactly `stopped` go down before the lock is released,
        `running` are never touched; PrepareForSleep(false): `stopped` come back."""
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(timeout, lambda: self.states(stopped + running))
        want = dict({n: "shutoff" for n in stopped}, **{n: "running" for n in running})
        got = {n: ("shutoff" if st[n] is None else st[n]) for n in st}   # a transient TD is gone
        self.assertEqual(got, want)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        for n in stopped:
            self.events.wait(n, "STARTED", 10, since=t1)
        for n in running:
            self.assertEqual(self.events.select(n, since=t0), [], "%s must be left alone" % n)
        self.assertEqual(self.states(stopped + running), {n: "running" for n in stopped + running})

    def test_tdx_xml_from_libvirt(self):
        td, vm, sev, snp = (self.uniq(s) for s in ("td", "vm", "sev", "snp"))
        self.define(td, TDX)
        self.define(vm)
        self.define(sev, SEV)
        if self.accepts["sev-snp"]:
            self.define(snp, SEV_SNP)
        # what tdsleepd reads is libvirt's own rendering of the domain
        back = self.lv.test.lookupByName(td).XMLDesc(0)
        self.assertRegex(back, r"<launchSecurity type=.tdx.>")
        self.assertRegex(back, r"<uuid>[0-9a-f-]{36}</uuid>")
        self.assertNotIn("tdsleep", back, "no metadata: the kind must come from launchSecurity")
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        doms = self.list_domains(d)
        self.assertEqual((doms[td]["kind"], doms[td]["protected"]), ("tdx", True))
        self.assertEqual((doms[vm]["kind"], doms[vm]["protected"]), ("none", False))
        self.assertEqual((doms[sev]["kind"], doms[sev]["protected"]), ("sev", False))
        others = [vm, sev]
        if self.accepts["sev-snp"]:
            self.assertEqual((doms[snp]["kind"], doms[snp]["protected"]), ("sev_snp", False))
            others.append(snp)
        self.cycle([td], others)

    def test_transient_tdx_recreated_from_saved_xml(self):
        td = self.uniq("td")
        self.define(td, TDX, transient=True)
        self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        self.cycle([td], [])
        dom = self.lv.test.lookupByName(td)
        self.assertFalse(dom.isPersistent())
        self.assertRegex(dom.XMLDesc(0), r"<launchSecurity type=.tdx.>",
                         "re-created from the XML saved before the stop")

    def test_sev_snp_protected_when_configured(self):
        if not self.accepts["sev-snp"]:
            self.skipTest("this libvirt rejects <launchSecurity type='sev-snp'>")
        td, snp, sev, vm = (self.uniq(s) for s in ("td", "snp", "sev", "vm"))
        self.define(td, TDX)
        self.define(snp, SEV_SNP)
        self.define(sev, SEV)
        self.define(vm)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s", ProtectedKinds="tdx sev-snp")).start()
        self.wait_lock()
        doms = self.list_domains(d)
        self.assertEqual((doms[snp]["kind"], doms[snp]["protected"]), ("sev_snp", True))
        self.assertEqual((doms[sev]["kind"], doms[sev]["protected"]), ("sev", False))
        self.cycle([td, snp], [sev, vm])

    def test_metadata_overrides_launch_security(self):
        """<tdsleep:domain trust-domain="no"> on a real TDX domain leaves it alone;
        trust-domain="yes" on a plain VM protects it."""
        td_no, vm_yes = self.uniq("td-no"), self.uniq("vm-yes")
        self.define(td_no, TDX, tdsleeptest.tdsleep_metadata(False))
        self.define(vm_yes, "", tdsleeptest.tdsleep_metadata(True))
        self.assertTrue(re.search(r"trust-domain=.no.", self.lv.test.lookupByName(td_no).XMLDesc(0)),
                        "libvirt keeps our <metadata>")
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        doms = self.list_domains(d)
        self.assertEqual((doms[td_no]["kind"], doms[td_no]["protected"]), ("tdx", False))
        self.assertEqual((doms[vm_yes]["kind"], doms[vm_yes]["protected"]), ("none", True))
        self.cycle([vm_yes], [td_no])


if __name__ == "__main__":
    unittest.main()
