"""Parsing an strace log into network attempts: loopback and Unix sockets pass, the rest is caught."""

from __future__ import annotations

from security.netwatch import outbound, parse

LOG = """\
100 execve("/venv/bin/python", ["/venv/bin/python", "/venv/bin/mesh", "demo", "--scale", "0.02"], 0x7ffd /* 40 vars */) = 0
100 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f, stack_size=0x9000}, 88) = 101
101 execve("/venv/bin/dbt", ["/venv/bin/dbt", "build", "--select", "x"], 0x55 /* 41 vars */ <unfinished ...>
101 <... execve resumed>) = 0
101 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_THREAD) = 102
102 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
102 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0
102 sendmmsg(3, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="x", iov_len=33}]}, msg_len=33}], 2, MSG_NOSIGNAL) = 2
100 connect(5, {sa_family=AF_INET6, sin6_port=htons(3000), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)
100 connect(6, {sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
100 connect(7, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0
100 sendto(4, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("192.0.2.1")}, 16 <unfinished ...>
100 <... sendto resumed>) = 1
100 connect(8, {sa_family=AF_UNIX, sun_path="/tmp/x/.s.PGSQL"}, 110) = 0
100 sendto(9, {{len=20, type=RTM_GETADDR, flags=NLM_F_REQUEST}}, 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
"""


def test_every_addressed_attempt_is_parsed_with_its_command():
    attempts = parse(LOG)
    assert [(a.family, a.address, a.port) for a in attempts] == [
        ("AF_UNIX", "/var/run/nscd/socket", None),
        ("AF_INET", "10.255.255.53", 53),
        ("AF_INET6", "::1", 3000),
        ("AF_INET", "127.0.0.1", 5432),
        ("AF_INET6", "::ffff:127.0.0.1", 443),
        ("AF_INET", "192.0.2.1", 443),
        ("AF_UNIX", "/tmp/x/.s.PGSQL", None),
    ]
    dns = attempts[1]
    assert dns.command == "dbt build --select x"  # a thread of dbt, found through clone
    assert attempts[2].command == "python /venv/bin/mesh demo --scale"


def test_dns_and_non_loopback_addresses_are_outbound_loopback_and_unix_sockets_are_not():
    bad = outbound(parse(LOG))
    assert [(a.address, a.port) for a in bad] == [("10.255.255.53", 53), ("192.0.2.1", 443)]
    assert "pid 102 (dbt build --select x): connect AF_INET 10.255.255.53:53 = 0" in str(bad[0])


def test_a_query_answered_by_a_resolver_daemon_is_outbound():
    line = '7 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = 0\n'
    assert [a.address for a in outbound(parse(line))] == ["/var/run/nscd/socket"]
    loopback_stub = '7 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0\n'
    assert len(outbound(parse(loopback_stub))) == 1
