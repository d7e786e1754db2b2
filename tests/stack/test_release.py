"""The release bundle (scripts/release.sh) and deploying it with the aws CLI alone
(scripts/deploy.sh --release): its checksums verify, its SBOMs are CycloneDX and name the crates
at their Cargo.lock versions, each zipped `bootstrap` is an arm64 binary that carries its crate list
(cargo auditable's .dep-v0 section, which dependency scanners read), its templates pass cfn-lint and
name the bundle's own files as their code, and the bundle deploys on the local AWS from a PATH with
no cargo, rustc, cargo-lambda or zig, and runs.

release.sh runs scripts/build.sh, which is a no-op after scripts/test.sh has built the zips.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tomllib
import zipfile
import zlib
from pathlib import Path

import pytest
from cfnlint.decode import decode
from stack_support import ACTIVE, BUCKET, PASSIVE, ROOT, STACK, LocalAws

VERSION = "0.0.0-test"
FUNCTIONS = ("peer", "get-status", "modify-routes")
TEMPLATES = ("transit-gateway-peering.yaml", "passive-account-role.yaml", "passive-region-events.yaml")
CODE_FILES = {f"{fn}.zip" for fn in FUNCTIONS} | {"peering.asl.json"}
ELF_MACHINE_AARCH64 = 183
BUILD_TOOLS = ("cargo", "rustc", "rustup", "cargo-lambda", "zig")


@pytest.fixture(scope="module")
def bundle() -> Path:
    done = subprocess.run([str(ROOT / "scripts/release.sh"), VERSION], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, f"release.sh failed:\n{done.stdout}\n{done.stderr}"
    return ROOT / "dist/release" / VERSION


def locked_version(crate: str) -> str:
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    (version,) = {p["version"] for p in lock["package"] if p["name"] == crate}
    return version


def elf_section(binary: bytes, wanted: str) -> tuple[int, bytes]:
    """The ELF64 little-endian binary's machine and the contents of its section named `wanted`."""
    assert binary[:4] == b"\x7fELF" and binary[4] == 2 and binary[5] == 1, "not a 64-bit little-endian ELF"
    machine = struct.unpack_from("<H", binary, 18)[0]
    shoff, = struct.unpack_from("<Q", binary, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", binary, 58)

    def header(index: int) -> tuple[int, int, int]:  # name offset, file offset, size
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", binary, shoff + index * shentsize)
        return name, offset, size

    _, names_at, _ = header(shstrndx)
    for index in range(shnum):
        name, offset, size = header(index)
        end = binary.index(b"\0", names_at + name)
        if binary[names_at + name:end].decode() == wanted:
            return machine, binary[offset:offset + size]
    raise AssertionError(f"no {wanted} section")


def test_the_bundle_holds_the_code_templates_and_sboms_and_its_checksums_verify(bundle):
    files = {p.name for p in bundle.iterdir()}
    assert files == CODE_FILES | set(TEMPLATES) | {f"{fn}.cdx.json" for fn in FUNCTIONS} | {"SHA256SUMS"}

    listed = {line.split(maxsplit=1)[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()}
    checked = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)

    assert listed == files - {"SHA256SUMS"}
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_sbom_is_cyclonedx_for_its_function_and_names_aws_sdk_ec2_at_its_cargo_lock_version(bundle, function):
    sbom = json.loads((bundle / f"{function}.cdx.json").read_text())

    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["metadata"]["component"]["name"] == function
    versions = {c["name"]: c["version"] for c in sbom["components"]}
    assert versions["aws-sdk-ec2"] == locked_version("aws-sdk-ec2")
    assert versions["tgw-peering"]  # the workspace's library, which the function is built on


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_zipped_bootstrap_is_arm64_and_carries_its_crate_list_for_scanners(bundle, function):
    with zipfile.ZipFile(bundle / f"{function}.zip") as archive:
        assert archive.namelist() == ["bootstrap"]
        binary = archive.read("bootstrap")

    machine, section = elf_section(binary, ".dep-v0")

    assert machine == ELF_MACHINE_AARCH64
    crates = json.loads(zlib.decompress(section))["packages"]
    assert {"name": "aws-sdk-ec2", "version": locked_version("aws-sdk-ec2")}.items() <= next(
        c for c in crates if c["name"] == "aws-sdk-ec2").items()
    assert any(c["name"] == function and c.get("root") for c in crates), "the function is the crate list's root"


def test_the_release_templates_pass_cfn_lint(bundle):
    done = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), *(str(bundle / t) for t in TEMPLATES)],
                          capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_release_template_expects_the_bundles_own_files_under_the_release_key_prefix(bundle):
    template, errors = decode(str(bundle / "transit-gateway-peering.yaml"))
    assert not errors, errors
    source, _ = decode(str(ROOT / "cloudformation/transit-gateway-peering.yaml"))

    prefix = template["Parameters"]["CodeKeyPrefix"]["Default"]
    code = [r["Properties"]["Code"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    definition = template["Resources"]["StateMachine"]["Properties"]["DefinitionS3Location"]
    keys = {c["S3Key"]["Fn::Sub"] for c in code} | {definition["Key"]["Fn::Sub"]}

    assert prefix == f"tgw-peering/{VERSION}/"
    assert {k.removeprefix("${CodeKeyPrefix}") for k in keys} == CODE_FILES
    assert all(k.startswith("${CodeKeyPrefix}") for k in keys), keys
    assert all((bundle / name).is_file() for name in CODE_FILES)
    # Nothing else differs from the source template but the parameter's default and description.
    del template["Parameters"]["CodeKeyPrefix"], source["Parameters"]["CodeKeyPrefix"]
    assert template == source


def test_deploy_sh_release_deploys_the_bundle_with_the_aws_cli_alone_and_an_execution_succeeds(
        bundle, local_aws: LocalAws, tmp_path):
    # Given a PATH with the aws CLI and the system's tools, and none of the build's.
    only_aws = tmp_path / "bin"
    only_aws.mkdir()
    (only_aws / "aws").symlink_to(ROOT / ".venv/bin/aws")
    path = os.pathsep.join([str(only_aws), "/usr/bin", "/bin"])
    assert [tool for tool in BUILD_TOOLS if shutil.which(tool, path=path)] == []
    env = {**local_aws.env, "PATH": path}

    # When the bundle is deployed with deploy.sh --release.
    done = subprocess.run([str(ROOT / "scripts/deploy.sh"), "--release", str(bundle), "--bucket", BUCKET,
                           "--stack-name", STACK, "--passive-region", PASSIVE, "PollIntervalSeconds=1"],
                          env=env, capture_output=True, text=True, timeout=300)

    # Then the stack runs the bundle's code from the release's keys, and an execution succeeds.
    assert done.returncode == 0, f"deploy.sh --release failed:\n{done.stdout}\n{done.stderr}"
    s3 = local_aws.client("s3")
    uploaded = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"tgw-peering/{VERSION}/")["Contents"]}
    assert {f"tgw-peering/{VERSION}/{name}" for name in CODE_FILES} <= uploaded
    stack = local_aws.client("cloudformation", ACTIVE).describe_stacks(StackName=STACK)["Stacks"][0]
    assert {"ParameterKey": "CodeKeyPrefix", "ParameterValue": f"tgw-peering/{VERSION}/"} in stack["Parameters"]
    run = local_aws.run({})
    assert run.status == "SUCCEEDED", run.described


def test_deploy_sh_release_refuses_a_bundle_whose_checksums_do_not_match(bundle, local_aws: LocalAws, tmp_path):
    # Given a copy of the bundle with one zip changed after its checksums were written.
    tampered = tmp_path / "bundle"
    shutil.copytree(bundle, tampered)
    with (tampered / "peer.zip").open("ab") as zipped:
        zipped.write(b"\0")

    # When it is deployed.
    done = subprocess.run([str(ROOT / "scripts/deploy.sh"), "--release", str(tampered), "--bucket", BUCKET,
                           "--passive-region", PASSIVE], env=local_aws.env, capture_output=True, text=True,
                          timeout=120)

    # Then deploy.sh stops before uploading anything, naming the file.
    assert done.returncode != 0
    assert "peer.zip: FAILED" in done.stdout + done.stderr
    assert "Contents" not in local_aws.client("s3").list_objects_v2(Bucket=BUCKET)
