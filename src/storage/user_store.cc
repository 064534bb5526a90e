// Compiles user_store.h on its own, so the header stays self-contained, and
// gives the storage target a source file of its own.
#include "storage/user_store.h"
