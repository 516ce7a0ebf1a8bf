fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::graphql_request(data));
}
