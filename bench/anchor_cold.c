/*
 * anchor_cold: the anchors of the cold-path figures (bench/run, phase
 * cold): what a first lookup costs without pindns, in one fresh process.
 *
 *	anchor_cold tls ADDR PORT AUTHNAME CAFILE NAME
 *	anchor_cold getdns ADDR PORT AUTHNAME CAFILE TAFILE NAME
 *
 * tls: a new TCP connection, a full TLS 1.3 handshake (CA and name
 * verified, no session resumption) and one DNS query (A, built by
 * res_mkquery) with its reply read: the least any DoT client pays for a
 * first answer. Prints "tls_us=.." (the whole exchange).
 *
 * getdns: what an application using getdns in-process pays: a stub
 * context made and configured as stubby's strict profile (TLS only,
 * authentication required, the CA file, the trust anchor file), then
 * one getdns_address_sync with dnssec_return_only_secure. Prints
 * "ctx_us=.. lookup_us=.. status=..". Loading the libraries is not in
 * either figure: the program links them (bench/run measures it apart).
 *
 * Exit 0 when the answer came (status 900 for getdns), 1 otherwise.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tests/tools/clock.h"

static int
read_full(SSL *ssl, unsigned char *buf, size_t len)
{
	size_t got = 0;
	int n;

	while (got < len) {
		if ((n = SSL_read(ssl, buf + got, (int)(len - got))) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int
tls_main(char **av)
{
	struct sockaddr_in sa;
	unsigned char q[2 + 512], hdr[2], *r = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	uint64_t t0, t1;
	int fd = -1, qlen, one = 1, rc = 1;
	size_t rlen;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(av[1]));
	if (inet_pton(AF_INET, av[0], &sa.sin_addr) != 1)
		return 2;
	/* The query first: building it is no part of the exchange. */
	if ((qlen = res_mkquery(ns_o_query, av[4], ns_c_in, ns_t_a, NULL, 0,
	    NULL, q + 2, 512)) < 0)
		return 2;
	q[0] = (unsigned char)(qlen >> 8);
	q[1] = (unsigned char)qlen;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_load_verify_locations(ctx, av[3], NULL) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	t0 = pd_now_ns();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		goto out;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set1_host(ssl, av[2]) != 1 ||
	    SSL_set_tlsext_host_name(ssl, av[2]) != 1 ||
	    SSL_connect(ssl) != 1 ||
	    SSL_write(ssl, q, qlen + 2) != qlen + 2 ||
	    read_full(ssl, hdr, 2) != 0)
		goto out;
	rlen = (size_t)hdr[0] << 8 | hdr[1];
	if (rlen < 12 || (r = malloc(rlen)) == NULL ||
	    read_full(ssl, r, rlen) != 0)
		goto out;
	t1 = pd_now_ns();
	printf("tls_us=%.1f version=%s\n", (double)(t1 - t0) / 1e3,
	    SSL_get_version(ssl));
	rc = 0;
out:
	if (rc != 0)
		ERR_print_errors_fp(stderr);
	free(r);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
getdns_main(char **av)
{
	getdns_context *ctx = NULL;
	getdns_dict *up = NULL, *ext = NULL, *resp = NULL;
	getdns_list *ups = NULL, *tas = NULL;
	getdns_bindata *addr = NULL, ad, tls_name;
	getdns_transport_list_t tls = GETDNS_TRANSPORT_TLS;
	struct in_addr in;
	uint32_t status = 0;
	uint64_t t0, t1, t2;
	FILE *fp = NULL;
	int rc = 1;

	if (inet_pton(AF_INET, av[0], &in) != 1)
		return 2;
	ad.size = 4;
	ad.data = (uint8_t *)&in;
	tls_name.size = strlen(av[2]);
	tls_name.data = (uint8_t *)av[2];
	t0 = pd_now_ns();
	if (getdns_context_create(&ctx, 0) != GETDNS_RETURN_GOOD ||
	    getdns_context_set_resolution_type(ctx,
	    GETDNS_RESOLUTION_STUB) != GETDNS_RETURN_GOOD ||
	    getdns_context_set_dns_transport_list(ctx, 1, &tls) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_context_set_tls_authentication(ctx,
	    GETDNS_AUTHENTICATION_REQUIRED) != GETDNS_RETURN_GOOD ||
	    getdns_context_set_tls_ca_file(ctx, av[3]) != GETDNS_RETURN_GOOD ||
	    getdns_context_set_trust_anchors_verify_CA(ctx, "") !=
	    GETDNS_RETURN_GOOD)
		goto out;
	if ((up = getdns_dict_create()) == NULL ||
	    (ups = getdns_list_create()) == NULL ||
	    getdns_dict_util_set_string(up, "address_type", "IPv4") ||
	    getdns_dict_set_bindata(up, "address_data", &ad) ||
	    getdns_dict_set_int(up, "tls_port", (uint32_t)atoi(av[1])) ||
	    getdns_dict_set_bindata(up, "tls_auth_name", &tls_name) ||
	    getdns_list_set_dict(ups, 0, up) ||
	    getdns_context_set_upstream_recursive_servers(ctx, ups) ||
	    getdns_context_set_idle_timeout(ctx, 10000))
		goto out;
	if ((fp = fopen(av[4], "r")) == NULL ||
	    getdns_fp2rr_list(fp, &tas, NULL, 3600) != GETDNS_RETURN_GOOD ||
	    getdns_context_set_dnssec_trust_anchors(ctx, tas))
		goto out;
	if ((ext = getdns_dict_create()) == NULL ||
	    getdns_dict_set_int(ext, "dnssec_return_only_secure",
	    GETDNS_EXTENSION_TRUE))
		goto out;
	t1 = pd_now_ns();
	if (getdns_address_sync(ctx, av[5], ext, &resp) != GETDNS_RETURN_GOOD ||
	    getdns_dict_get_int(resp, "status", &status))
		goto out;
	t2 = pd_now_ns();
	(void)getdns_dict_get_bindata(resp,
	    "/just_address_answers/0/address_data", &addr);
	printf("ctx_us=%.1f lookup_us=%.1f status=%u answers=%d\n",
	    (double)(t1 - t0) / 1e3, (double)(t2 - t1) / 1e3, status,
	    addr != NULL);
	rc = status == GETDNS_RESPSTATUS_GOOD && addr != NULL ? 0 : 1;
out:
	if (fp != NULL)
		fclose(fp);
	getdns_dict_destroy(resp);
	getdns_dict_destroy(ext);
	getdns_dict_destroy(up);
	getdns_list_destroy(ups);
	getdns_list_destroy(tas);
	if (ctx != NULL)
		getdns_context_destroy(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "tls") == 0)
		return tls_main(argv + 2);
	if (argc == 8 && strcmp(argv[1], "getdns") == 0)
		return getdns_main(argv + 2);
	fprintf(stderr, "usage: anchor_cold tls ADDR PORT AUTHNAME CAFILE "
	    "NAME\n       anchor_cold getdns ADDR PORT AUTHNAME CAFILE "
	    "TAFILE NAME\n");
	return 2;
}
