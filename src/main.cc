// shopd: parse -> build -> run -> stop. Everything else lives in app/.
#include "app/cli.h"

int main(int argc, char** argv) { return shopd::app::Main(argc, argv); }
