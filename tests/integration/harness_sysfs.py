# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: the sysfs and procfs files tdsleepd reads, below a root directory."""
import os


class FakeSysfs:
    def __init__(self, root, mem_sleep="s2idle [deep]", state="freeze mem disk", swap=False,
                 disk="[platform] shutdown reboot suspend test_resume"):
        self.root = root
        self.write("sys/power/state", state + "\n")
        self.write("sys/power/mem_sleep", mem_sleep + "\n")
        self.write("sys/power/disk", disk + "\n")
        swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        if swap:
            swaps += "/dev/vda2                               partition\t4194300\t\t0\t\t-2\n"
        self.write("proc/swaps", swaps)
        cpuinfo = ""
        for n in (0, 1):
            cpuinfo += ("processor\t: %d\nvendor_id\t: GenuineIntel\nphysical id\t: 0\n"
                        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic\n\n" % n)
        self.write("proc/cpuinfo", cpuinfo)
        self.write("sys/devices/system/cpu/online", "0-1\n")
        self.write("sys/devices/system/cpu/possible", "0-1\n")
        self.write("sys/devices/system/cpu/present", "0-1\n")
        for n in (0, 1):
            self.write("sys/devices/system/cpu/cpu%d/topology/physical_package_id" % n, "0\n")
            self.write("sys/devices/system/cpu/cpu%d/online" % n, "1\n")
        self.write("sys/module/kvm_intel/parameters/tdx", "N\n")

    def write(self, rel, text):
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def read(self, rel):
        return open(os.path.join(self.root, rel)).read()
