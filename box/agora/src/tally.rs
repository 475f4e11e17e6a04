//! Poll kinds, ballots and vote counting. Pure: no I/O.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Single,
    Multiple,
    Approval,
    Ranked,
    Date,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Single,
        Kind::Multiple,
        Kind::Approval,
        Kind::Ranked,
        Kind::Date,
    ];
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == s)
    }
    pub fn code(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::Multiple => "multiple",
            Kind::Approval => "approval",
            Kind::Ranked => "ranked",
            Kind::Date => "date",
        }
    }
    /// The i18n key of the kind's name and of the counting method it uses.
    pub fn label_key(self) -> &'static str {
        match self {
            Kind::Single => "kind_single",
            Kind::Multiple => "kind_multiple",
            Kind::Approval => "kind_approval",
            Kind::Ranked => "kind_ranked",
            Kind::Date => "kind_date",
        }
    }
    pub fn method_key(self) -> &'static str {
        match self {
            Kind::Single | Kind::Multiple => "method_count",
            Kind::Approval => "method_approval",
            Kind::Ranked => "method_schulze",
            Kind::Date => "method_date",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Yes,
    Maybe,
    No,
}

impl Answer {
    pub fn parse(s: &str) -> Option<Answer> {
        match s {
            "yes" => Some(Answer::Yes),
            "maybe" => Some(Answer::Maybe),
            "no" => Some(Answer::No),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::Maybe => "maybe",
            Answer::No => "no",
        }
    }
}

/// One voter's ballot, as stored (JSON) and counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ballot {
    /// Indexes of the chosen options (single, multiple, approval).
    Choices(Vec<usize>),
    /// Rank of each option (1 = first), `None` = unranked.
    Ranks(Vec<Option<u32>>),
    /// Answer for each option of a date poll.
    Dates(Vec<Answer>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BallotError {
    #[error("no choice")]
    Empty,
    #[error("too many choices")]
    TooMany,
    #[error("option out of range or repeated")]
    BadOption,
}

/// Builds a ballot from the submitted values; `choices` are the `choice` fields,
/// `ranks[i]`/`answers[i]` the `rank_i`/`answer_i` fields (None when absent or empty).
pub fn make_ballot(
    kind: Kind,
    n_options: usize,
    max_choices: Option<usize>,
    choices: &[&str],
    ranks: &[Option<&str>],
    answers: &[Option<&str>],
) -> Result<Ballot, BallotError> {
    match kind {
        Kind::Single | Kind::Multiple | Kind::Approval => {
            let mut picked = Vec::new();
            for c in choices {
                let i: usize = c.trim().parse().map_err(|_| BallotError::BadOption)?;
                if i >= n_options || picked.contains(&i) {
                    return Err(BallotError::BadOption);
                }
                picked.push(i);
            }
            picked.sort_unstable();
            let most = match kind {
                Kind::Single => 1,
                Kind::Multiple => max_choices.unwrap_or(n_options),
                _ => n_options,
            };
            if picked.is_empty() && kind != Kind::Approval {
                return Err(BallotError::Empty);
            }
            if picked.len() > most {
                return Err(BallotError::TooMany);
            }
            Ok(Ballot::Choices(picked))
        }
        Kind::Ranked => {
            let mut out = Vec::with_capacity(n_options);
            for i in 0..n_options {
                let r = match ranks.get(i).copied().flatten().map(str::trim) {
                    None | Some("") => None,
                    Some(s) => {
                        let r: u32 = s.parse().map_err(|_| BallotError::BadOption)?;
                        if r == 0 || r as usize > n_options {
                            return Err(BallotError::BadOption);
                        }
                        Some(r)
                    }
                };
                out.push(r);
            }
            if out.iter().all(Option::is_none) {
                return Err(BallotError::Empty);
            }
            Ok(Ballot::Ranks(out))
        }
        Kind::Date => {
            let mut out = Vec::with_capacity(n_options);
            for i in 0..n_options {
                let a = match answers.get(i).copied().flatten() {
                    None | Some("") => Answer::No,
                    Some(s) => Answer::parse(s).ok_or(BallotError::BadOption)?,
                };
                out.push(a);
            }
            Ok(Ballot::Dates(out))
        }
    }
}

/// One option's line in the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    pub option: usize,
    /// Main score: votes, approvals, Schulze wins, or yes+maybe for dates.
    pub score: u64,
    pub yes: u64,
    pub maybe: u64,
    pub no: u64,
    /// 1-based, ties share a rank.
    pub rank: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Results {
    pub voters: usize,
    /// Sorted best first.
    pub rows: Vec<Row>,
}

#[allow(clippy::needless_range_loop)] // ranks read from the previous row
pub fn tally(kind: Kind, n_options: usize, ballots: &[Ballot]) -> Results {
    let mut rows: Vec<Row> = (0..n_options)
        .map(|option| Row {
            option,
            score: 0,
            yes: 0,
            maybe: 0,
            no: 0,
            rank: 0,
        })
        .collect();
    match kind {
        Kind::Ranked => {
            let wins = schulze_wins(n_options, ballots);
            for (row, w) in rows.iter_mut().zip(wins) {
                row.score = w;
            }
        }
        _ => {
            for b in ballots {
                match b {
                    Ballot::Choices(c) => {
                        for &i in c {
                            if let Some(r) = rows.get_mut(i) {
                                r.score += 1;
                            }
                        }
                    }
                    Ballot::Dates(a) => {
                        for (r, a) in rows.iter_mut().zip(a) {
                            match a {
                                Answer::Yes => r.yes += 1,
                                Answer::Maybe => r.maybe += 1,
                                Answer::No => r.no += 1,
                            }
                        }
                    }
                    Ballot::Ranks(_) => {}
                }
            }
            if kind == Kind::Date {
                for r in &mut rows {
                    r.score = r.yes + r.maybe;
                }
            }
        }
    }
    // Best first; for dates, ties on yes+maybe are broken by yes.
    let key = |r: &Row| (r.score, if kind == Kind::Date { r.yes } else { 0 });
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then(a.option.cmp(&b.option)));
    let mut prev = None;
    for i in 0..rows.len() {
        let k = key(&rows[i]);
        rows[i].rank = match prev {
            Some((pk, pr)) if pk == k => pr,
            _ => i + 1,
        };
        prev = Some((k, rows[i].rank));
    }
    Results {
        voters: ballots.len(),
        rows,
    }
}

/// Schulze method: for each option, the number of other options it beats along
/// the strongest paths. Unranked options count as ranked below every ranked one.
#[allow(clippy::needless_range_loop)] // matrix code reads clearer with indexes
pub fn schulze_wins(n: usize, ballots: &[Ballot]) -> Vec<u64> {
    let mut d = vec![vec![0u64; n]; n];
    for b in ballots {
        let Ballot::Ranks(ranks) = b else { continue };
        let pos = |i: usize| ranks.get(i).copied().flatten().unwrap_or(u32::MAX);
        for i in 0..n {
            for j in 0..n {
                if i != j && pos(i) < pos(j) {
                    d[i][j] += 1;
                }
            }
        }
    }
    let mut p = vec![vec![0u64; n]; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && d[i][j] > d[j][i] {
                p[i][j] = d[i][j];
            }
        }
    }
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            for k in 0..n {
                if i != k && j != k {
                    p[j][k] = p[j][k].max(p[j][i].min(p[i][k]));
                }
            }
        }
    }
    (0..n)
        .map(|i| (0..n).filter(|&j| j != i && p[i][j] > p[j][i]).count() as u64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranks(order: &[usize], n: usize) -> Ballot {
        // order lists option indexes best first
        let mut r = vec![None; n];
        for (pos, &i) in order.iter().enumerate() {
            r[i] = Some(pos as u32 + 1);
        }
        Ballot::Ranks(r)
    }

    #[test]
    fn schulze_wikipedia_example() {
        // Wikipedia's 45 voters over A..E: the Schulze order is E > A > C > B > D.
        let (a, b, c, d, e) = (0, 1, 2, 3, 4);
        let groups: &[(usize, [usize; 5])] = &[
            (5, [a, c, b, e, d]),
            (5, [a, d, e, c, b]),
            (8, [b, e, d, a, c]),
            (3, [c, a, b, e, d]),
            (7, [c, a, e, b, d]),
            (2, [c, b, a, d, e]),
            (7, [d, c, e, b, a]),
            (8, [e, b, a, d, c]),
        ];
        let mut ballots = Vec::new();
        for (count, order) in groups {
            for _ in 0..*count {
                ballots.push(ranks(order, 5));
            }
        }
        let r = tally(Kind::Ranked, 5, &ballots);
        let order: Vec<usize> = r.rows.iter().map(|r| r.option).collect();
        assert_eq!(order, vec![e, a, c, b, d]);
        assert_eq!(r.rows[0].score, 4);
        assert_eq!(r.voters, 45);
    }

    #[test]
    fn unranked_options_come_last() {
        let b = vec![Ballot::Ranks(vec![None, Some(1), None])];
        let r = tally(Kind::Ranked, 3, &b);
        assert_eq!(r.rows[0].option, 1);
        assert_eq!(r.rows[1].rank, 2);
        assert_eq!(r.rows[2].rank, 2, "the two unranked options tie");
    }

    #[test]
    fn counts_with_ties_share_a_rank() {
        let b = vec![
            Ballot::Choices(vec![0, 2]),
            Ballot::Choices(vec![2]),
            Ballot::Choices(vec![0]),
        ];
        let r = tally(Kind::Multiple, 3, &b);
        assert_eq!(r.rows[0].option, 0);
        assert_eq!((r.rows[0].score, r.rows[0].rank), (2, 1));
        assert_eq!((r.rows[1].option, r.rows[1].rank), (2, 1));
        assert_eq!(
            (r.rows[2].option, r.rows[2].score, r.rows[2].rank),
            (1, 0, 3)
        );
    }

    #[test]
    fn date_polls_order_by_available_then_yes() {
        use Answer::*;
        let b = vec![
            Ballot::Dates(vec![Yes, Maybe, No]),
            Ballot::Dates(vec![Maybe, Yes, Yes]),
            Ballot::Dates(vec![No, Yes, Maybe]),
        ];
        let r = tally(Kind::Date, 3, &b);
        // option 1: 3 available (2 yes); option 0: 2 (1 yes); option 2: 2 (1 yes)
        assert_eq!(r.rows[0].option, 1);
        assert_eq!((r.rows[0].yes, r.rows[0].maybe, r.rows[0].no), (2, 1, 0));
        assert_eq!(r.rows[1].rank, 2);
        assert_eq!(r.rows[2].rank, 2);
    }

    #[test]
    fn ballots_are_validated() {
        use BallotError::*;
        let mk = |k, max, c: &[&str]| make_ballot(k, 3, max, c, &[], &[]);
        assert_eq!(mk(Kind::Single, None, &["1"]), Ok(Ballot::Choices(vec![1])));
        assert_eq!(mk(Kind::Single, None, &[]), Err(Empty));
        assert_eq!(mk(Kind::Single, None, &["0", "1"]), Err(TooMany));
        assert_eq!(mk(Kind::Single, None, &["3"]), Err(BadOption));
        assert_eq!(mk(Kind::Single, None, &["x"]), Err(BadOption));
        assert_eq!(mk(Kind::Multiple, None, &["0", "0"]), Err(BadOption));
        assert_eq!(mk(Kind::Multiple, Some(2), &["0", "1", "2"]), Err(TooMany));
        assert_eq!(
            mk(Kind::Multiple, Some(2), &["2", "0"]),
            Ok(Ballot::Choices(vec![0, 2]))
        );
        assert_eq!(mk(Kind::Approval, None, &[]), Ok(Ballot::Choices(vec![])));
        let r = make_ballot(
            Kind::Ranked,
            3,
            None,
            &[],
            &[Some("2"), None, Some("1")],
            &[],
        );
        assert_eq!(r, Ok(Ballot::Ranks(vec![Some(2), None, Some(1)])));
        let r = make_ballot(Kind::Ranked, 3, None, &[], &[Some("4")], &[]);
        assert_eq!(r, Err(BadOption));
        let r = make_ballot(Kind::Ranked, 3, None, &[], &[Some(""), None], &[]);
        assert_eq!(r, Err(Empty));
        let r = make_ballot(Kind::Date, 2, None, &[], &[], &[Some("yes")]);
        assert_eq!(r, Ok(Ballot::Dates(vec![Answer::Yes, Answer::No])));
        let r = make_ballot(Kind::Date, 2, None, &[], &[], &[Some("perhaps")]);
        assert_eq!(r, Err(BadOption));
    }

    #[test]
    fn ballot_json_is_stable() {
        let b = Ballot::Dates(vec![Answer::Yes, Answer::Maybe]);
        let s = serde_json::to_string(&b).unwrap();
        assert_eq!(s, r#"{"dates":["yes","maybe"]}"#);
        assert_eq!(serde_json::from_str::<Ballot>(&s).unwrap(), b);
    }
}
