/*
 * pindns unit tests and bench_dot: a stock getdns context against the
 * lab's upstream (lab_getdns.h).
 */
#include <arpa/inet.h>
#include <stdint.h>

#include "tests/unit/lab.h"
#include "tests/unit/lab_getdns.h"

getdns_context *
pd_lab_getdns(int port, uint64_t idle_ms)
{
	getdns_context *ctx = NULL;
	getdns_list *ups = getdns_list_create();
	getdns_dict *u = getdns_dict_create();
	uint8_t addr[4];
	getdns_bindata a = { sizeof(addr), addr };
	getdns_namespace_t ns = GETDNS_NAMESPACE_DNS;
	getdns_transport_list_t tls = GETDNS_TRANSPORT_TLS;
	const char *up = pd_lab_opt("LAB_UP_ADDR"), *ca = pd_lab_opt("LAB_CA");
	const char *name = pd_lab_opt("LAB_AUTH_NAME");
	bool ok;

	ok = ups != NULL && u != NULL && up != NULL && ca != NULL &&
	    name != NULL && inet_pton(AF_INET, up, addr) == 1 &&
	    getdns_context_create(&ctx, 0) == GETDNS_RETURN_GOOD;
	ok = ok && getdns_context_set_namespaces(ctx, 1, &ns) == 0 &&
	    getdns_context_set_resolution_type(ctx,
	    GETDNS_RESOLUTION_STUB) == 0 &&
	    getdns_context_set_dns_transport_list(ctx, 1, &tls) == 0 &&
	    getdns_context_set_tls_authentication(ctx,
	    GETDNS_AUTHENTICATION_REQUIRED) == 0 &&
	    getdns_context_set_trust_anchors_verify_CA(ctx, "") == 0 &&
	    getdns_context_set_tls_ca_file(ctx, ca) == 0 &&
	    getdns_dict_util_set_string(u, "address_type", "IPv4") == 0 &&
	    getdns_dict_set_bindata(u, "address_data", &a) == 0 &&
	    getdns_dict_set_int(u, "tls_port", (uint32_t)port) == 0 &&
	    getdns_dict_util_set_string(u, "tls_auth_name", name) == 0 &&
	    getdns_list_set_dict(ups, 0, u) == 0 &&
	    getdns_context_set_upstream_recursive_servers(ctx, ups) == 0 &&
	    getdns_context_set_idle_timeout(ctx, idle_ms) == 0;
	getdns_dict_destroy(u);
	getdns_list_destroy(ups);
	if (!ok && ctx != NULL) {
		getdns_context_destroy(ctx);
		ctx = NULL;
	}
	return ctx;
}
