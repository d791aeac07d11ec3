// TEMPORARY: delete when the CLI exists.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).unwrap();
    let s = match sibsim::scenario::parse(&args[1], &text) {
        Ok(s) => s,
        Err(e) => { println!("{e}"); return; }
    };
    println!("parsed OK: {}", s.contract.name);
    let Some(a) = args.get(2) else { return };
    let csv = std::fs::read_to_string(a).unwrap();
    let act = match sibsim::actuals::parse_csv(&s.contract, a, &csv) {
        Ok(x) => x,
        Err(e) => { println!("{e}"); return; }
    };
    let mut lines = Vec::<sibsim::LedgerLine>::new();
    let mut st = sibsim::Settler::new(&s.contract);
    let r = st.settle(&act, &mut lines);
    match r {
        Err(e) => println!("settle error: {e}"),
        Ok(set) => {
            let c = &s.contract;
            println!("final period {} termination {:?}", set.final_period, set.termination);
            for (i, p) in c.parties.iter().enumerate() {
                println!("{:20} paid {:>12} received {:>12} net {:>12}", p.id, set.paid[i], set.received[i], set.received[i] - set.paid[i]);
            }
            for (i, t) in set.tranches.iter().enumerate() {
                println!("tranche {} {:?}", c.tranches[i].id, t);
            }
            for (i, o) in set.outcomes.iter().enumerate() {
                println!("outcome {} {:?}", c.outcomes[i].id, o);
            }
            println!("outcome_payments {} fixed {} cut_by_total_cap {} not_due {} unpaid_costs {} fees_owed {} deferred_owed {} held_end {} ent_cash {}",
                set.outcome_payments, set.fixed_payments, set.cut_by_total_cap, set.not_due, set.unpaid_costs, set.fees_owed, set.deferred_fees_owed, set.held_at_end(), set.enterprise_cash);
            if std::env::var("LEDGER").is_ok() {
                for l in &lines {
                    println!("p{:2} {:>18} -> {:<18} {:>12} {:?}", l.period, c.parties[l.from].id, c.parties[l.to].id, l.amount, l.rule);
                }
            }
        }
    }
}
