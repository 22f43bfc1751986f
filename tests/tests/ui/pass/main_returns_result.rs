// A real `main`: runs on the configured workers and returns `Ok`.

#[weft::main(worker_threads = 2)]
async fn main() -> Result<(), std::io::Error> {
    let workers = weft::Handle::current().metrics().num_workers();
    assert_eq!(workers, 2);
    Ok(())
}
