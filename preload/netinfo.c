/*
 * pindns preload: rtnetlink address and link dumps, after glibc's
 * sysdeps/unix/sysv/linux/check_pf.c and check_native.c.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "preload/clock.h"
#include "preload/netinfo.h"

#define NETINFO_TTL_MS	1000u
#define NL_BUFSIZE	8192

typedef int nl_fn(const struct nlmsghdr *, void *);

/*
 * Dump one rtnetlink table (type RTM_GETADDR or RTM_GETLINK) and pass each
 * message of ours of type want (RTM_NEWADDR, RTM_NEWLINK) to fn, which
 * returns 1 to stop early. 0 done, -1 failed.
 */
static int
nl_dump(int type, int want, nl_fn *fn, void *arg)
{
	struct {
		struct nlmsghdr	nlh;
		struct rtgenmsg	g;
		char		pad[3];
	} req;
	struct sockaddr_nl nladdr;
	socklen_t alen = sizeof(nladdr);
	struct iovec iov;
	struct msghdr msg;
	struct nlmsghdr *nlh;
	char *buf = NULL;
	ssize_t len;
	uint32_t pid, seq;
	int fd, r = -1, done = 0;

	fd = socket(PF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	memset(&nladdr, 0, sizeof(nladdr));
	nladdr.nl_family = AF_NETLINK;
	if (bind(fd, (struct sockaddr *)&nladdr, sizeof(nladdr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&nladdr, &alen) != 0)
		goto out;
	pid = nladdr.nl_pid;
	seq = (uint32_t)time(NULL);

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = (unsigned short)type;
	req.nlh.nlmsg_flags = NLM_F_ROOT | NLM_F_MATCH | NLM_F_REQUEST;
	req.nlh.nlmsg_seq = seq;
	req.g.rtgen_family = AF_UNSPEC;
	memset(&nladdr, 0, sizeof(nladdr));
	nladdr.nl_family = AF_NETLINK;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nladdr,
	    sizeof(nladdr)) < 0)
		goto out;

	if ((buf = malloc(NL_BUFSIZE)) == NULL)
		goto out;
	while (!done) {
		iov.iov_base = buf;
		iov.iov_len = NL_BUFSIZE;
		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &nladdr;
		msg.msg_namelen = sizeof(nladdr);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		do
			len = recvmsg(fd, &msg, 0);
		while (len < 0 && errno == EINTR);
		if (len < 0 || (msg.msg_flags & MSG_TRUNC))
			goto out;
		for (nlh = (struct nlmsghdr *)(void *)buf;
		    NLMSG_OK(nlh, (size_t)len); nlh = NLMSG_NEXT(nlh, len)) {
			if (nladdr.nl_pid != 0 || nlh->nlmsg_pid != pid ||
			    nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (nlh->nlmsg_type == want && fn(nlh, arg)) {
				done = 1;
				break;
			}
		}
	}
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

struct addr_walk {
	struct pd_netinfo	*ni;
	int			 failed;
};

/* check_pf.c's make_request, one RTM_NEWADDR message. */
static int
addr_one(const struct nlmsghdr *nlh, void *arg)
{
	struct addr_walk *w = arg;
	struct pd_netinfo *ni = w->ni;
	const struct ifaddrmsg *ifam = NLMSG_DATA(nlh);
	const struct rtattr *rta = IFA_RTA(ifam);
	size_t len = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifam));
	const void *local = NULL, *address = NULL;
	struct pd_in6ai *e;

	if (ifam->ifa_family != AF_INET && ifam->ifa_family != AF_INET6)
		return 0;
	/* IFA_ADDRESS wins (the peer on point-to-point links), as in glibc. */
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL)
			local = RTA_DATA(rta);
		else if (rta->rta_type == IFA_ADDRESS) {
			address = RTA_DATA(rta);
			break;
		}
	}
	if (address == NULL)
		address = local;
	if (address == NULL)
		return 0;
	if (ifam->ifa_family == AF_INET) {
		uint32_t a;

		memcpy(&a, address, 4);
		if (a != htonl(INADDR_LOOPBACK))
			ni->seen_ipv4 = true;
	} else if (!IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)address))
		ni->seen_ipv6 = true;

	if (ni->n == ni->cap) {
		size_t cap = ni->cap ? ni->cap * 2 : 16;
		struct pd_in6ai *v = realloc(ni->v, cap * sizeof(*v));

		if (v == NULL) {
			w->failed = 1;
			return 1;
		}
		ni->v = v;
		ni->cap = cap;
	}
	e = &ni->v[ni->n++];
	memset(e, 0, sizeof(*e));
	e->flags = ((ifam->ifa_flags & (IFA_F_DEPRECATED | IFA_F_OPTIMISTIC)) ?
	    PD_IN6AI_DEPRECATED : 0) |
	    ((ifam->ifa_flags & IFA_F_HOMEADDRESS) ? PD_IN6AI_HOMEADDRESS : 0);
	e->prefixlen = ifam->ifa_prefixlen;
	e->index = ifam->ifa_index;
	if (ifam->ifa_family == AF_INET) {
		e->addr[2] = htonl(0xffff);
		memcpy(&e->addr[3], address, 4);
	} else
		memcpy(e->addr, address, 16);
	return 0;
}

static int
in6ai_cmp(const void *a, const void *b)
{
	return memcmp(((const struct pd_in6ai *)a)->addr,
	    ((const struct pd_in6ai *)b)->addr, 16);
}

void
pd_netinfo_get(struct pd_netinfo *ni)
{
	struct addr_walk w;
	uint64_t now = pd_clock_ms();

	if (ni->expires != 0 && now < ni->expires)
		return;
	ni->expires = now + NETINFO_TTL_MS;
	ni->seen_ipv4 = ni->seen_ipv6 = false;
	ni->n = 0;
	w.ni = ni;
	w.failed = 0;
	if (nl_dump(RTM_GETADDR, RTM_NEWADDR, addr_one, &w) != 0 || w.failed) {
		/* glibc: "We cannot determine what interfaces are
		 * available." */
		ni->seen_ipv4 = ni->seen_ipv6 = true;
		ni->have_list = false;
		ni->n = 0;
		return;
	}
	ni->have_list = true;
	/* Without IPv6, glibc keeps no per-address information at all. */
	if (!ni->seen_ipv6)
		ni->n = 0;
	if (ni->n > 1)
		qsort(ni->v, ni->n, sizeof(*ni->v), in6ai_cmp);
}

const struct pd_in6ai *
pd_netinfo_find(const struct pd_netinfo *ni, const uint32_t addr[4])
{
	struct pd_in6ai key;

	if (!ni->have_list || ni->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.addr, addr, 16);
	return bsearch(&key, ni->v, ni->n, sizeof(*ni->v), in6ai_cmp);
}

struct link_walk {
	uint32_t	 i1, i2;
	int		*n1, *n2;
};

/* check_native.c, one RTM_NEWLINK message. */
static int
link_one(const struct nlmsghdr *nlh, void *arg)
{
	struct link_walk *w = arg;
	const struct ifinfomsg *ifim = NLMSG_DATA(nlh);
	int native = ifim->ifi_type != ARPHRD_TUNNEL6 &&
	    ifim->ifi_type != ARPHRD_TUNNEL && ifim->ifi_type != ARPHRD_SIT;

	if (w->i1 == (uint32_t)ifim->ifi_index) {
		*w->n1 = native;
		w->i1 = 0xffffffffu;
	}
	if (w->i2 == (uint32_t)ifim->ifi_index) {
		*w->n2 = native;
		w->i2 = 0xffffffffu;
	}
	return w->i1 == 0xffffffffu && w->i2 == 0xffffffffu;
}

void
pd_netinfo_native(uint32_t a1_index, int *a1_native, uint32_t a2_index,
    int *a2_native)
{
	struct link_walk w = { a1_index, a2_index, a1_native, a2_native };

	(void)nl_dump(RTM_GETLINK, RTM_NEWLINK, link_one, &w);
}

void
pd_netinfo_clear(struct pd_netinfo *ni)
{
	free(ni->v);
	memset(ni, 0, sizeof(*ni));
}
