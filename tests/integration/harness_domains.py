# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: domain XML for libvirt's test and QEMU drivers, with tdsleep's
<metadata>, and a domain's state by name.
"""

TDSLEEP_NS = "urn:tdsleep:domain:1"
STATE_NAMES = {0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown",
               5: "shutoff", 6: "crashed", 7: "pmsuspended"}


def tdsleep_metadata(trust_domain=True, **attrs):
    """<metadata> marking a TD (libvirt 9.0 rejects launchSecurity type='tdx')."""
    if trust_domain is None and not attrs:
        return ""
    a = "" if trust_domain is None else ' trust-domain="%s"' % ("yes" if trust_domain else "no")
    for k, v in attrs.items():
        a += ' %s="%s"' % (k.replace("_", "-"), v)
    return '<metadata><tdsleep:domain xmlns:tdsleep="%s"%s/></metadata>' % (TDSLEEP_NS, a)


SEV_XML = ("<launchSecurity type='sev'><cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits>"
           "<policy>0x0003</policy></launchSecurity>")


def _td_metadata(td, meta):
    """td: True (trust-domain="yes"), "no" (trust-domain="no") or False (no metadata)."""
    if td == "no":
        return tdsleep_metadata(False, **meta)
    return tdsleep_metadata(True, **meta) if td else ""


def testdrv_domain_xml(name, td=True, sev=False, **meta):
    return """<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  {meta}
  <os><type arch='x86_64'>hvm</type></os>
  {sev}
</domain>""".format(name=name, meta=_td_metadata(td, meta), sev=SEV_XML if sev else "")


def qemu_domain_xml(name, images, serial, acpid=True, td=True, initrd=None, **meta):
    return """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  {meta}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{serial}' append='off'/></serial>
  </devices>
</domain>""".format(name=name, meta=_td_metadata(td, meta),
                    kernel=images.kernel, initrd=initrd or images.initrd(acpid), serial=serial)


def domain_state(conn, name):
    """'running', 'shutoff', ... or None when no such domain exists."""
    import libvirt
    try:
        return STATE_NAMES.get(conn.lookupByName(name).state()[0], "?")
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise
