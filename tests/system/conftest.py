"""Fixtures for the system tests: one booted tern host per platform, shared by
the tests that only talk to its monitor (booting Bochs + OVMF takes 10-20 s), and
fresh hosts for tests that end or kill theirs. `make test` builds first."""
import pytest

from ternhost import TernHost, close_all, why_no_kvm_vmx

NO_KVM = why_no_kvm_vmx()

PLATFORM_PARAMS = [
    "bochs-uefi",
    "bochs-bios",
    "qemu-uefi",
    pytest.param("kvm-uefi", marks=pytest.mark.skipif(
        NO_KVM is not None, reason=f"kvm-uefi needs VT-x from KVM: {NO_KVM}")),
]


@pytest.fixture(scope="session", params=PLATFORM_PARAMS)
def platform(request):
    return request.param


@pytest.fixture(scope="session")
def booted(platform):
    """A host of this platform, at its prompt, shared by the session."""
    host = TernHost(platform, name=f"session-{platform}")
    try:
        host.wait_prompt()
        yield host
    finally:
        host.close()


@pytest.fixture
def hosts(request):
    """Factory: hosts(platform, n=None, lan=None, nic=None, **TernHost options) boots a
    host (host n on the LAN lan, with that NIC); every host it made is closed, and
    checked for leftover emulators, after the test."""
    made = []

    def make(platform, n=None, lan=None, nic=None, **kw):
        extra = list(kw.pop("extra", ()))
        if lan:
            extra += ["--lan", lan]
        if n:
            extra += ["--host", str(n)]
        if nic:
            extra += ["--nic", nic]
        h = TernHost(platform, name=f"{request.node.name}-{len(made)}", extra=extra, **kw)
        made.append(h)
        return h
    yield make
    close_all(made)


@pytest.fixture
def new_host(hosts, platform):
    """Factory for fresh hosts of this test's platform (see hosts)."""
    return lambda **kw: hosts(platform, **kw)


def pytest_configure(config):
    # pexpect 4.8's reader thread uses setDaemon(); not ours to fix.
    config.addinivalue_line("filterwarnings",
                            "ignore:setDaemon:DeprecationWarning:pexpect.popen_spawn")
