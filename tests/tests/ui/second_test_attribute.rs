#[weft::test]
#[test]
async fn twice() {}

#[weft::test]
#[weft::test(worker_threads = 2)]
async fn stacked() {}

fn main() {}
