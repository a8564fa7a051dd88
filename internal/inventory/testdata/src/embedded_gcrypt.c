/* Stands for a program with libgcrypt linked in statically. */
const char *gcry_check_version(const char *req) { return req; }
int main(void) { return gcry_check_version(0) == 0 ? 0 : 1; }
