// kuzusync entry point: hands argv to the command layer.

#include "src/cli.h"

int main(int argc, char** argv) { return kuzusync::RunCli(argc, argv); }
