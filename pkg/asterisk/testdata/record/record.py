#!/usr/bin/python3
"""Record what Asterisk says, as raw bytes, for pkg/asterisk/testdata.

Run as root inside a chroot of the test bed's image (see record.sh), with
the test's configuration in /etc/gocf-test (conf/ next to this file). It
starts Asterisk itself, records during boot, booted, during a call, and
on core stop, then writes every answer to OUT (argv[1], default
/tmp/rec) with a log of timings (times.txt). Bounded: every wait has a
deadline and Asterisk is killed (by its pid) at the end.
"""
import base64, os, socket, subprocess, sys, threading, time

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/rec"
CONF = "/etc/gocf-test/asterisk.conf"
CTL = "/var/run/asterisk/asterisk.ctl"
os.makedirs(OUT, exist_ok=True)
T0 = time.monotonic()
log = open(os.path.join(OUT, "times.txt"), "w")


def note(msg):
    line = "%7.3f %s" % (time.monotonic() - T0, msg)
    print(line, flush=True)
    log.write(line + "\n")
    log.flush()


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    note("saved %s (%d bytes)" % (name, len(data)))


def ctl(cmd, timeout=10.0):
    """The whole stream of one control-socket session, with the times
    (since sending) at which each chunk arrived."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(CTL)
    start = time.monotonic()
    s.sendall(b"cli quit after " + cmd.encode() + b"\0")
    data, chunks = b"", []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                chunks.append("closed@%.3f" % (time.monotonic() - start))
                break
            chunks.append("%.3f:%d" % (time.monotonic() - start, len(b)))
            data += b
    except socket.timeout:
        chunks.append("timeout")
    s.close()
    note("ctl %r: chunks %s" % (cmd, " ".join(chunks)))
    return data


def http(auth, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", 8088), timeout=timeout)
    req = b"GET /ari/asterisk/info HTTP/1.1\r\nHost: 127.0.0.1:8088\r\n"
    if auth:
        req += b"Authorization: Basic " + base64.b64encode(auth.encode()) + b"\r\n"
    req += b"Connection: close\r\n\r\n"
    s.sendall(req)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    s.close()
    return data


def sip_options(port=5060, tag="gocfrec1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    req = ("OPTIONS sip:monitor@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:rec@127.0.0.1:%d>;tag=%s\r\n"
           "To: <sip:monitor@127.0.0.1:%d>\r\n"
           "Call-ID: %s@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "Contact: <sip:rec@127.0.0.1:%d>\r\n"
           "User-Agent: gocf-recorder\r\n"
           "Content-Length: 0\r\n\r\n") % (port, me, tag, me, tag, port, tag, me)
    s.settimeout(5)
    s.sendto(req.encode(), ("127.0.0.1", port))
    out = b""
    try:
        while True:  # 100 Trying (if any), then the final answer
            b, _ = s.recvfrom(65536)
            out += b + b"\n--- next datagram ---\n"
            code = b.split(b" ", 2)[1]
            if not code.startswith(b"1"):
                break
    except socket.timeout:
        out += b"(timeout)\n"
    s.close()
    return req.encode(), out


def boot_ari():
    """Poll ARI from the start: the first answers while Asterisk boots."""
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            r = http("monitor:s3cret", 2)
        except OSError:
            time.sleep(0.005)
            continue
        status = r.split(b"\r\n", 1)[0]
        if status not in seen:
            seen.add(status)
            note("ARI during boot: %r" % status)
            save("ari-boot-%d.http" % len(seen), r)
        if b" 200 " in status:
            return
        time.sleep(0.005)


def boot_ctl():
    """core waitfullybooted as soon as the socket appears."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(CTL):
            try:
                note("socket appeared")
                save("core_waitfullybooted-boot.bin", ctl("core waitfullybooted", 30))
                return
            except OSError as e:
                note("ctl at boot: %s" % e)
        time.sleep(0.002)


def main():
    ver = subprocess.run(["asterisk", "-V"], capture_output=True, timeout=10)
    save("asterisk-V.out", ver.stdout + ver.stderr)
    save("hostname.out", subprocess.run(["hostname"], capture_output=True, timeout=5).stdout)
    try:
        os.unlink(CTL)
    except OSError:
        pass
    note("starting asterisk")
    p = subprocess.Popen(["asterisk", "-C", CONF, "-f", "-U", "asterisk", "-G", "asterisk", "-g"],
                         stdin=subprocess.DEVNULL, stdout=open(os.path.join(OUT, "asterisk.stdout"), "wb"),
                         stderr=subprocess.STDOUT)
    note("asterisk pid %d" % p.pid)
    try:
        ta = threading.Thread(target=boot_ari); ta.start()
        tc = threading.Thread(target=boot_ctl); tc.start()
        ta.join(35); tc.join(35)
        save("core_waitfullybooted.bin", ctl("core waitfullybooted"))
        save("core_show_channels_count.bin", ctl("core show channels count"))
        save("core_show_channelsx.bin", ctl("core show channelsx"))
        save("core_show_channels_countx.bin", ctl("core show channels countx"))
        save("ari-ok.http", http("monitor:s3cret"))
        save("ari-wrong.http", http("monitor:wrong"))
        save("ari-none.http", http(None))
        req, ans = sip_options()
        save("sip-options-request.txt", req)
        save("sip-options-answer.txt", ans)
        # The SIP stack dead while the process and its control socket
        # live (issue 16, fault 3): without the endpoint identifiers pjsip
        # answers every request with 500; loaded again, 200.
        for i, (cmd, name) in enumerate([
                ("module unload res_pjsip_endpoint_identifier_anonymous.so", "noanon"),
                ("module unload res_pjsip_endpoint_identifier_ip.so", "noident"),
                ("module load res_pjsip_endpoint_identifier_ip.so", None),
                ("module load res_pjsip_endpoint_identifier_anonymous.so", "reloaded")]):
            save("module-%d.bin" % i, ctl(cmd))
            if name:
                req, ans = sip_options(tag="gocfrec-" + name)
                save("sip-options-%s-answer.txt" % name, ans)
        save("channel_originate.bin", ctl("channel originate Local/hold@test application Wait 4"))
        time.sleep(1)
        save("core_show_channels_count-call.bin", ctl("core show channels count"))
        # core stop gracefully during a call: what is sent, and when.
        save("channel_originate-2.bin", ctl("channel originate Local/hold@test application Wait 4"))
        time.sleep(0.5)
        save("core_stop_gracefully.bin", ctl("core stop gracefully", 20))
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            pass
        note("asterisk exit %r" % p.returncode)
        # core stop now on a fresh, booted Asterisk.
        p = subprocess.Popen(["asterisk", "-C", CONF, "-f", "-U", "asterisk", "-G", "asterisk", "-g"],
                             stdin=subprocess.DEVNULL, stdout=open(os.path.join(OUT, "asterisk-2.stdout"), "wb"),
                             stderr=subprocess.STDOUT)
        note("asterisk pid %d" % p.pid)
        deadline = time.monotonic() + 30
        while not os.path.exists(CTL) and time.monotonic() < deadline:
            time.sleep(0.01)
        ctl("core waitfullybooted", 30)
        save("core_stop_now.bin", ctl("core stop now", 20))
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            pass
        note("asterisk exit %r" % p.returncode)
    finally:
        if p.poll() is None:
            note("killing asterisk pid %d" % p.pid)
            p.kill()
            p.wait(10)


main()
