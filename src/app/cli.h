// app: the `shopd` command line: parse -> build -> run -> stop.
#pragma once

namespace shopd::app {

int Main(int argc, char** argv);

}  // namespace shopd::app
