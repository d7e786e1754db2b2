"""scripts/local.sh, the demo a newcomer runs first, run whole as they run it (with its own local
AWS, seeded network, deploy.sh and start.sh): with no flags it must end green, the VPC routes
written and every VPC pair reachable, then say what a real deployment changes.

About 30 seconds on a warm build; it needs the host binaries that scripts/test.sh builds first
(local.sh's own `cargo build` is then a no-op).
"""

from __future__ import annotations

import os
import subprocess

from stack_support import ROOT
from test_traffic import section


def test_local_sh_with_no_flags_ends_with_vpc_routes_written_and_every_vpc_pair_reachable():
    # Given a shell with no AWS settings of its own (local.sh sets up its local AWS).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    # When a newcomer runs the demo with no flags.
    done = subprocess.run([str(ROOT / "scripts/local.sh")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)

    # Then the execution succeeds, writes a VPC route table for each of the three tagged VPCs, and
    # both VPC pairs are reachable, with nothing left for the operator to look at.
    assert done.returncode == 0, f"local.sh failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert any(line.startswith("SUCCEEDED in ") for line in lines), done.stdout
    written = section(lines, "  vpc route tables:")
    assert written[0] == "  vpc route tables: 3", done.stdout
    assert all("0 conflicts" in row for row in written[1:]), written
    reachability = section(lines, "  reachability:")
    assert reachability[0] == "  reachability: 2 of 2 VPC pairs reachable", done.stdout
    assert [row.split()[2] for row in reachability[1:]] == ["reachable", "reachable"], reachability
    assert not any(line.lstrip().startswith(("notice:", "note:", "warning:")) for line in lines), done.stdout
    # And it ends by saying what a real deployment does differently.
    assert "==> 7/8 what a real deployment changes" in done.stderr, done.stderr
    assert any("VpcRoutes=false" in line and "default" in line for line in lines), done.stdout
