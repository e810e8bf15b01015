// opstudio-cli: headless entry point. Wiring only; subcommands live in app/cli/.
#include <cstdio>
int main() { std::puts("opstudio-cli"); return 0; }
