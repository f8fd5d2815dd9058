// Nothing to compile: the target exists for its header (SwiftPM needs one source file per C target).
#include "CBatonEpoll.h"
