/*
 * oracle: what a real libcrypto makes of the configuration file named by
 * OPENSSL_CONF, for the differential test (oracle_test.go).
 *
 * It loads libcrypto.so.3 with dlopen, so that it builds against no OpenSSL
 * headers and runs against whichever libcrypto the dynamic loader finds (the
 * test runs it with a Debian root filesystem's own loader and libraries).
 * Prototypes and the two structures read are declared by hand; both
 * structures have been public and stable across OpenSSL 3.
 *
 * Output, one record a line, strings hex-encoded:
 *   init RET                  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG)
 *   provider NAME             every provider activated afterwards
 *   fips_enabled 0|1          EVP_default_properties_is_fips_enabled
 *   load ok                   NCONF_load of the same file succeeded
 *   load fail LINE            ... or failed at OpenSSL's line count
 *   error TEXT                the last error on the queue
 *   value SECTION I NAME VAL  the I-th value of SECTION, in OpenSSL's order
 *   section SECTION N         a section and its number of values
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *section;
    char *name;
    char *value;
} conf_value;

typedef struct {
    void *meth;
    void *meth_data;
    void *data;
} conf;

#define OPENSSL_INIT_LOAD_CONFIG 0x00000040L

static void *lib;

static void *sym(const char *name)
{
    void *f = dlsym(lib, name);

    if (f == NULL) {
        fprintf(stderr, "oracle: %s: %s\n", name, dlerror());
        exit(2);
    }
    return f;
}

static void hex(const char *s)
{
    if (*s == '\0')
        fputs("-", stdout);
    for (; *s != '\0'; s++)
        printf("%02x", (unsigned char)*s);
}

static int (*sk_num)(const void *);
static void *(*sk_value)(const void *, int);

static void dump(const void *v)
{
    const conf_value *cv = v;
    int i, n;

    if (cv->name != NULL)
        return;
    n = sk_num(cv->value);
    printf("section ");
    hex(cv->section);
    printf(" %d\n", n);
    for (i = 0; i < n; i++) {
        const conf_value *e = sk_value(cv->value, i);

        printf("value ");
        hex(cv->section);
        printf(" %d ", i);
        hex(e->name);
        putchar(' ');
        hex(e->value);
        putchar('\n');
    }
}

static int provider(void *prov, void *arg)
{
    const char *(*get0_name)(const void *) = arg;

    printf("provider ");
    hex(get0_name(prov));
    putchar('\n');
    return 1;
}

int main(void)
{
    const char *file = getenv("OPENSSL_CONF");
    int (*init_crypto)(unsigned long, const void *);
    int (*do_all)(void *, int (*)(void *, void *), void *);
    int (*fips_enabled)(void *);
    conf *(*nconf_new)(void *);
    int (*nconf_load)(conf *, const char *, long *);
    unsigned long (*peek_last)(void);
    void (*error_string)(unsigned long, char *, size_t);
    void (*lh_doall)(void *, void (*)(const void *));
    char buf[256];
    long eline = 0;
    conf *c;

    if (file == NULL) {
        fprintf(stderr, "oracle: OPENSSL_CONF is not set\n");
        return 2;
    }
    if ((lib = dlopen("libcrypto.so.3", RTLD_NOW)) == NULL) {
        fprintf(stderr, "oracle: %s\n", dlerror());
        return 2;
    }
    init_crypto = sym("OPENSSL_init_crypto");
    do_all = sym("OSSL_PROVIDER_do_all");
    fips_enabled = sym("EVP_default_properties_is_fips_enabled");
    nconf_new = sym("NCONF_new");
    nconf_load = sym("NCONF_load");
    peek_last = sym("ERR_peek_last_error");
    error_string = sym("ERR_error_string_n");
    lh_doall = sym("OPENSSL_LH_doall");
    sk_num = sym("OPENSSL_sk_num");
    sk_value = sym("OPENSSL_sk_value");

    /* As an application loads its configuration: OPENSSL_CONF, default flags. */
    printf("init %d\n", init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL));
    do_all(NULL, provider, sym("OSSL_PROVIDER_get0_name"));
    printf("fips_enabled %d\n", fips_enabled(NULL));

    c = nconf_new(NULL);
    if (nconf_load(c, file, &eline) <= 0) {
        printf("load fail %ld\n", eline);
        error_string(peek_last(), buf, sizeof(buf));
        printf("error ");
        hex(buf);
        putchar('\n');
        return 0;
    }
    printf("load ok\n");
    lh_doall(c->data, dump);
    return 0;
}
