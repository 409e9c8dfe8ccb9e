"""Clients that send DNS themselves, one line per answer (tests/integration).

    dns_clients.py aiodns   SERVER NAME...     aiodns query A and AAAA
    dns_clients.py pycares  SERVER NAME...     pycares (c-ares) A and AAAA
    dns_clients.py udp      SERVER NAME...     dnspython dns.query.udp, A
    dns_clients.py tcp      SERVER NAME...     dnspython dns.query.tcp, A
    dns_clients.py resolver SERVER NAME...     dnspython Resolver (UDP, TC
                                               makes it ask again over TCP)
    dns_clients.py wire     SERVER NAME TYPE   the reply's bytes in hex for
                                               a fixed query (ID 4242)
    dns_clients.py ede      SERVER NAME TYPE   rcode and EDE of an EDNS query
    dns_clients.py aiohttp  SERVER URL         POST through aiohttp's
                                               AsyncResolver (aiodns)

SERVER "-" means the system's resolv.conf. Errors print as "error KIND".
"""
import asyncio
import sys


def servers(s):
    return None if s == "-" else [s]


def run_aiodns(srv, names):
    import aiodns

    async def main():
        r = aiodns.DNSResolver(nameservers=servers(srv), timeout=3, tries=1)
        for n in names:
            for t in ("A", "AAAA"):
                try:
                    res = await r.query(n, t)
                    print(n, t, " ".join(sorted(x.host for x in res)))
                except aiodns.error.DNSError as e:
                    print(n, t, "error", e.args[0])
    asyncio.run(main())


def run_pycares(srv, names):
    import pycares
    import select

    ch = pycares.Channel(servers=servers(srv), timeout=3.0, tries=1)
    out = {}

    def cb(key):
        def f(res, err):
            out[key] = ("error %d" % err) if err else " ".join(
                sorted(x.host for x in res))
        return f
    for n in names:
        for t, q in (("A", pycares.QUERY_TYPE_A),
                     ("AAAA", pycares.QUERY_TYPE_AAAA)):
            ch.query(n, q, cb((n, t)))
    while True:
        r, w = ch.getsock()
        if not r and not w:
            break
        rl, wl, _ = select.select(r, w, [], ch.timeout() or 1.0)
        if not rl and not wl:
            ch.process_fd(pycares.ARES_SOCKET_BAD, pycares.ARES_SOCKET_BAD)
        for fd in rl:
            ch.process_fd(fd, pycares.ARES_SOCKET_BAD)
        for fd in wl:
            ch.process_fd(pycares.ARES_SOCKET_BAD, fd)
    for n in names:
        for t in ("A", "AAAA"):
            print(n, t, out.get((n, t), "no callback"))


def addrs(r):
    import dns.rdatatype
    return " ".join(sorted(x.to_text() for rr in r.answer for x in rr
                           if rr.rdtype in (dns.rdatatype.A,
                                            dns.rdatatype.AAAA)))


def run_dnspython(how, srv, names):
    import dns.message
    import dns.query
    import dns.rcode
    import dns.resolver

    if how == "resolver":
        res = dns.resolver.Resolver(configure=(srv == "-"))
        if srv != "-":
            res.nameservers = [srv]
        res.lifetime = 5
        res.use_edns(-1)	# 512-byte answers: TC for long ones
        for n in names:
            try:
                a = res.resolve(n, "A", raise_on_no_answer=False)
                print(n, "A", addrs(a.response) or "nodata")
            except Exception as e:
                print(n, "A", "error", type(e).__name__)
        return
    for n in names:
        q = dns.message.make_query(n, "A")
        try:
            r = (dns.query.udp if how == "udp" else dns.query.tcp)(
                q, srv, timeout=3)
            print(n, "A", dns.rcode.to_text(r.rcode()), addrs(r),
                  "tc" if r.flags & 0x200 else "")
        except Exception as e:
            print(n, "A", "error", type(e).__name__)


def run_wire(srv, name, typ):
    import dns.message
    import dns.query
    q = dns.message.make_query(name, typ, use_edns=0)
    q.id = 4242
    try:
        r = dns.query.udp(q, srv, timeout=3)
        print(r.to_wire().hex())
    except Exception as e:
        print("error", type(e).__name__)


def run_ede(srv, name, typ):
    import dns.message
    import dns.query
    import dns.rcode
    q = dns.message.make_query(name, typ, use_edns=0)
    try:
        r = dns.query.udp(q, srv, timeout=5)
    except Exception as e:
        print("error", type(e).__name__)
        return
    ede = [(o.code, o.text) for o in r.options if o.otype == 15]
    print(dns.rcode.to_text(r.rcode()), "edns", r.edns,
          " ".join("ede=%d:%s" % e for e in ede) or "no-ede")


# A SigV4-shaped header (the stand-in checks the shape, not the maths).
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIAPINDNSSEEDTEST01/20260101/"
        "us-east-1/dynamodb/aws4_request, SignedHeaders=host, "
        "Signature=" + "0" * 64)


def run_aiohttp(srv, url):
    import aiohttp

    async def main():
        res = aiohttp.AsyncResolver(nameservers=servers(srv))
        conn = aiohttp.TCPConnector(resolver=res, use_dns_cache=False)
        async with aiohttp.ClientSession(connector=conn) as s:
            try:
                async with s.post(url, data=b'{"TableName":"items","Key":'
                                  b'{"id":{"S":"42"}}}', headers={
                                      "X-Amz-Target":
                                      "DynamoDB_20120810.GetItem",
                                      "Content-Type":
                                      "application/x-amz-json-1.0",
                                      "Authorization": AUTH}) as r:
                    print(r.status, (await r.text()).strip())
            except Exception as e:
                print("error", type(e).__name__)
    asyncio.run(main())


def main():
    mode, srv, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "aiodns":
        run_aiodns(srv, rest)
    elif mode == "pycares":
        run_pycares(srv, rest)
    elif mode in ("udp", "tcp", "resolver"):
        run_dnspython(mode, srv, rest)
    elif mode == "wire":
        run_wire(srv, rest[0], rest[1])
    elif mode == "ede":
        run_ede(srv, rest[0], rest[1])
    elif mode == "aiohttp":
        run_aiohttp(srv, rest[0])
    else:
        sys.exit("dns_clients.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
