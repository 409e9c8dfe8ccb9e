/*
 * pindns preload: per-thread state, freed by a pthread key destructor.
 */
#include <pthread.h>
#include <stdlib.h>

#include "preload/tstate.h"

static __thread struct pd_tstate *ts __attribute__((tls_model("initial-exec")));
static pthread_key_t ts_key;
static int ts_key_ok;
static pthread_once_t ts_once = PTHREAD_ONCE_INIT;

static void
ts_free(void *p)
{
	struct pd_tstate *t = p;

	if (t == NULL)
		return;
	pd_sort_clear(&t->sort);
	pd_netinfo_clear(&t->net);
	free(t->hbuf);
	free(t);
	ts = NULL;
}

static void
ts_init(void)
{
	ts_key_ok = pthread_key_create(&ts_key, ts_free) == 0;
}

struct pd_tstate *
pd_tstate_get(void)
{
	struct pd_tstate *t = ts;

	if (t != NULL)
		return t;
	(void)pthread_once(&ts_once, ts_init);
	/* Without a key the block could not be freed at thread exit. */
	if (!ts_key_ok)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (pthread_setspecific(ts_key, t) != 0) {
		free(t);
		return NULL;
	}
	ts = t;
	return t;
}
