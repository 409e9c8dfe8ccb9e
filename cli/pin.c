/*
 * pindns pin HOST[:PORT] | pindns pin --cert FILE.pem
 *
 * Prints the sha256 SPKI pin of a TLS key in the tls_pubkey_pinset format
 * (RFC 7469's pin-sha256: base64 of SHA-256 over the DER
 * SubjectPublicKeyInfo, what getdns and stubby take). From a live server
 * it takes the leaf certificate presented, without verifying anything:
 * whoever sits on the path could have presented their own key, so it
 * says so, and the pin must be checked out of band.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cli/cli.h"

#define PIN_TIMEOUT_MS	5000

static void
ssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	fprintf(stderr, "pindns pin: %s", what);
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, ": %s", buf);
	}
	fprintf(stderr, "\n");
}

/* base64(SHA-256(DER SubjectPublicKeyInfo)) into out (>= 45 bytes). */
static int
spki_pin(X509 *cert, char *out)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int len, ok = -1;

	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32 && EVP_EncodeBlock((unsigned char *)out, md, 32) == 44)
		ok = 0;
	OPENSSL_free(der);
	return ok;
}

static void
print_entry(X509 *cert, const char *pin)
{
	char subject[256];

	X509_NAME_oneline(X509_get_subject_name(cert), subject,
	    sizeof(subject));
	printf("  # %s\n", subject);
	printf("  - digest: sha256\n    value: %s\n", pin);
}

static int
pin_file(const char *path)
{
	FILE *f;
	X509 *cert;
	char pin[64];
	int n = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "pindns pin: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (spki_pin(cert, pin) != 0) {
			X509_free(cert);
			ssl_errors("cannot compute the pin");
			rc = 1;
			break;
		}
		if (n++ == 0)
			printf("tls_pubkey_pinset:\n");
		print_entry(cert, pin);
		X509_free(cert);
	}
	fclose(f);
	ERR_clear_error();	/* PEM_read_X509's end-of-file "error" */
	if (n == 0) {
		fprintf(stderr, "pindns pin: %s: no PEM certificate\n", path);
		return 1;
	}
	return rc;
}

/* "host", "host:port", "[v6]", "[v6]:port", or a bare v6 literal. */
static int
split_hostport(const char *arg, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *c, *end;

	snprintf(port, plen, "853");
	if (arg[0] == '[') {
		if ((end = strchr(arg, ']')) == NULL)
			return -1;
		if ((size_t)(end - arg - 1) >= hlen)
			return -1;
		memcpy(host, arg + 1, (size_t)(end - arg - 1));
		host[end - arg - 1] = '\0';
		if (end[1] == ':')
			snprintf(port, plen, "%s", end + 2);
		else if (end[1] != '\0')
			return -1;
	} else if ((c = strchr(arg, ':')) != NULL && strchr(c + 1, ':') ==
	    NULL) {
		if ((size_t)(c - arg) >= hlen)
			return -1;
		memcpy(host, arg, (size_t)(c - arg));
		host[c - arg] = '\0';
		snprintf(port, plen, "%s", c + 1);
	} else {
		if (strlen(arg) >= hlen)
			return -1;
		snprintf(host, hlen, "%s", arg);
	}
	return host[0] != '\0' && port[0] != '\0' ? 0 : -1;
}

/* Connect with a timeout; returns a blocking socket or -1. */
static int
dial(const char *host, const char *port, char *label, size_t llen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { PIN_TIMEOUT_MS / 1000, 0 };
	struct pollfd pfd;
	char a[INET6_ADDRSTRLEN];
	socklen_t sl;
	int fd = -1, e, soerr;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "pindns pin: %s:%s: %s\n", host, port,
		    gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a), NULL, 0,
		    NI_NUMERICHOST);
		snprintf(label, llen, ai->ai_family == AF_INET6 ? "[%s]:%s" :
		    "%s:%s", a, port);
		e = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (e != 0 && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			soerr = ETIMEDOUT;
			sl = sizeof(soerr);
			if (poll(&pfd, 1, PIN_TIMEOUT_MS) == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
				    &sl);
			e = soerr == 0 ? 0 : -1;
			errno = soerr;
		}
		if (e == 0 && fcntl(fd, F_SETFL, 0) == 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == 0)
			break;
		fprintf(stderr, "pindns pin: %s: %s\n", label,
		    strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
pin_live(const char *arg)
{
	char host[256], port[16], label[INET6_ADDRSTRLEN + 24], pin[64];
	unsigned char tmp[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	int fd = -1, rc = 1;

	if (split_hostport(arg, host, sizeof(host), port, sizeof(port)) != 0) {
		return pd_cli_usage_error("pin", "pin HOST[:PORT] | pin --cert "
		    "FILE.pem", "bad HOST[:PORT] '%s'", arg);
	}
	if ((fd = dial(host, port, label, sizeof(label))) < 0)
		return 1;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL) {
		ssl_errors("TLS setup failed");
		goto out;
	}
	/* We want the key whatever it is: nothing is verified here. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (inet_pton(AF_INET, host, tmp) != 1 &&
	    inet_pton(AF_INET6, host, tmp) != 1)
		SSL_set_tlsext_host_name(ssl, host);
	if (SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		ssl_errors("TLS handshake failed");
		goto out;
	}
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		fprintf(stderr, "pindns pin: %s presented no certificate\n",
		    label);
		goto out;
	}
	if (spki_pin(cert, pin) != 0) {
		ssl_errors("cannot compute the pin");
		goto out;
	}
	printf("# SPKI pin of the leaf key presented by %s (%s), NOT "
	    "verified\n", host, label);
	printf("tls_pubkey_pinset:\n");
	print_entry(cert, pin);
	fprintf(stderr, "pindns pin: WARNING: this key was taken from the "
	    "connection without any verification; check it out of band (the "
	    "provider's published pins, another network) before you trust "
	    "it, and add a backup pin.\n");
	SSL_shutdown(ssl);
	rc = 0;
out:
	X509_free(cert);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
pd_cmd_pin(int argc, char **argv)
{
	static const char u[] = "pin HOST[:PORT] | pin --cert FILE.pem";
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cert = NULL;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (c != 'c')
			return pd_cli_bad_option("pin", u, c, argv);
		cert = optarg;
	}
	if (cert != NULL && optind == argc)
		return pin_file(cert);
	if (cert == NULL && argc - optind == 1)
		return pin_live(argv[optind]);
	return pd_cli_usage_error("pin", u, "expected HOST[:PORT] or --cert "
	    "FILE.pem");
}
