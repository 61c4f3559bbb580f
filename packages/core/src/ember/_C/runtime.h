int em_abi_version(void);
int em_get_num_threads(void);
void em_set_num_threads(int n);
