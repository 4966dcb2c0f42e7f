// Generated once with Python's hmac/hashlib (an HKDF independent of the Rust crate).
const VECTOR_WALLET_SIGNING: &str = "56d7e9fc20b1eb43b32f2fb9d5e007e77a0d3fb5670d755009484753083119e5";
const VECTOR_WALLET_ENCRYPTION: &str = "431a291b79adc956bf0b8c821466b909c34fa6ffc9ac2a0c26e9e30534ec4cb6";
const VECTOR_ACTION: &str = "1087efd6db596944daebc66044d9272df7fb06d1bf4b64a965bb35a9554b12f0";
const VECTOR_PAYER_0: &str = "548a739d399ecb980f508c6cd4d52d61fcbe6ab5af23bee1e1220bc0713eb956";
const VECTOR_PAYER_1: &str = "c9c04b90a730325feaa9e366e74144ab37dbb4ed113fb4390bbdc028ebc0224a";
const VECTOR_ADMIN_PAYER: &str = "744a5e9594fdca30e0cea8a97af16c5c8b2669252f1503c5082a10edcd912477";
const VECTOR_PAYER_0_ADDRESS: &str = "0xed6f1ff4bd19754a2a2591f349a822494698408b"; // from `cast wallet address`
