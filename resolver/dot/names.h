/*
 * pindns DoT backend: domain names between getdns and the engine.
 *
 * getdns hands owner names out as uncompressed wire-format bindata; the
 * engine speaks normalised presentation names (lower-case ASCII, no
 * trailing dot, the root as "", no escapes: the form pd_name_normalize()
 * gives). These helpers convert between the two and compare names.
 */
#ifndef PD_DOT_NAMES_H
#define PD_DOT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include <getdns/getdns.h>

#include "policy/policy.h"

/*
 * Normalise a wire-format name (as getdns gives it) into out (at least
 * PD_NAME_MAX + 1 bytes). Returns the length, or -1 when the bindata is
 * not one well-formed name (bad label length, missing root label,
 * trailing bytes, over 255 octets) or holds a '.' or NUL inside a label
 * (which the engine's names cannot express).
 */
int	pd_dname_norm(const getdns_bindata *b, char *out);

/*
 * Presentation form of a normalised name for getdns_general(): every
 * byte other than a letter, digit, '-', '_' or '*' is written as \DDD so
 * getdns reads back exactly the labels the engine asked for. out holds at
 * least 4 * PD_NAME_MAX + 2 bytes. Returns false if the name is too long.
 */
bool	pd_dname_escape(const char *norm, char *out, size_t outlen);

/* Is anc (normalised) the name itself or one of its ancestors? "" is the
 * root and every name's ancestor. */
bool	pd_dname_under(const char *name, const char *anc);

/* Number of labels of a normalised name (the root has 0). */
unsigned pd_dname_labels(const char *norm);

#endif /* PD_DOT_NAMES_H */
