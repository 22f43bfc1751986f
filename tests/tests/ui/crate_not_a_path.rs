#[weft::test(crate = "not a path")]
async fn string() {}

#[weft::test(crate = 1)]
async fn number() {}

fn main() {}
