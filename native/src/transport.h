#pragma once
#include <napi.h>

namespace stele {
Napi::Function TcpTransportClass(Napi::Env env);
}
