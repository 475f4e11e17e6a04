//! Polls, votes, boards and notes in the database.

use crate::db::DbError;
use crate::tally::{Ballot, Kind};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// Caps on what the whole box holds.
pub const POLLS_MAX: i64 = 2000;
pub const BOARDS_MAX: i64 = 500;
pub const NOTES_PER_BOARD: i64 = 300;
pub const VOTES_PER_POLL: i64 = 5000;

#[derive(Clone, Debug, Serialize)]
pub struct Poll {
    pub id: String,
    pub title: String,
    pub description: String,
    pub kind: Kind,
    pub options: Vec<String>,
    pub max_choices: Option<usize>,
    pub closes_at: Option<String>,
    pub closed: bool,
    pub created_at: i64,
    pub hidden: bool,
}

impl Poll {
    /// Closed by its creator, or past its closing time (`now`: local `YYYY-MM-DDTHH:MM`).
    pub fn is_closed(&self, now: &str) -> bool {
        self.closed || self.closes_at.as_deref().is_some_and(|c| now >= c)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Vote {
    pub id: i64,
    #[serde(skip)]
    pub device: String,
    pub name: String,
    pub ballot: Ballot,
    pub updated_at: i64,
    pub hidden: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Board {
    pub id: String,
    pub title: String,
    pub created_at: i64,
    pub hidden: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub id: i64,
    pub name: String,
    pub position: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Note {
    pub id: i64,
    pub column_id: i64,
    pub position: i64,
    pub text: String,
    pub color: String,
    pub updated_at: i64,
    pub hidden: bool,
}

pub struct NewPoll {
    pub title: String,
    pub description: String,
    pub kind: Kind,
    pub options: Vec<String>,
    pub max_choices: Option<usize>,
    pub closes_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("not found")]
    NotFound,
    #[error("limit reached")]
    TooMany,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(DbError::Sqlite(e))
    }
}

type R<T> = Result<T, StoreError>;

fn poll_row(r: &Row) -> rusqlite::Result<Poll> {
    let kind: String = r.get(3)?;
    let options: String = r.get(4)?;
    let max: Option<i64> = r.get(5)?;
    Ok(Poll {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Single),
        options: serde_json::from_str(&options).unwrap_or_default(),
        max_choices: max.map(|m| m as usize),
        closes_at: r.get(6)?,
        closed: r.get(7)?,
        created_at: r.get(8)?,
        hidden: r.get(9)?,
    })
}

const POLL_COLS: &str =
    "id, title, description, kind, options, max_choices, closes_at, closed, created_at, hidden";

pub fn create_poll(c: &Connection, id: &str, p: &NewPoll, edit_hash: &str) -> R<()> {
    let n: i64 = c.query_row("SELECT count(*) FROM polls", [], |r| r.get(0))?;
    if n >= POLLS_MAX {
        return Err(StoreError::TooMany);
    }
    let options = serde_json::to_string(&p.options).unwrap_or_else(|_| "[]".into());
    c.execute(
        "INSERT INTO polls (id, title, description, kind, options, max_choices, closes_at, edit_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            p.title,
            p.description,
            p.kind.code(),
            options,
            p.max_choices.map(|m| m as i64),
            p.closes_at,
            edit_hash,
            crate::sys::unix_now()
        ],
    )?;
    Ok(())
}

/// A poll; hidden ones only when `include_hidden`.
pub fn poll(c: &Connection, id: &str, include_hidden: bool) -> R<Poll> {
    let p = c
        .query_row(
            &format!("SELECT {POLL_COLS} FROM polls WHERE id = ?1"),
            [id],
            poll_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    if p.hidden && !include_hidden {
        return Err(StoreError::NotFound);
    }
    Ok(p)
}

pub fn polls(c: &Connection, include_hidden: bool, limit: i64) -> R<Vec<Poll>> {
    let mut st = c.prepare(&format!(
        "SELECT {POLL_COLS} FROM polls WHERE hidden = 0 OR ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(params![include_hidden, limit], poll_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn poll_edit_hash(c: &Connection, id: &str) -> R<String> {
    c.query_row("SELECT edit_hash FROM polls WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub fn update_poll(c: &Connection, id: &str, title: &str, description: &str) -> R<()> {
    changed(c.execute(
        "UPDATE polls SET title = ?2, description = ?3 WHERE id = ?1",
        params![id, title, description],
    )?)
}

pub fn set_poll_closed(c: &Connection, id: &str, closed: bool) -> R<()> {
    // Reopening also clears a closing time already past.
    let sql = if closed {
        "UPDATE polls SET closed = 1 WHERE id = ?1"
    } else {
        "UPDATE polls SET closed = 0, closes_at = NULL WHERE id = ?1"
    };
    changed(c.execute(sql, [id])?)
}

fn changed(n: usize) -> R<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Moderation (and creators' delete): `table` is one of ours, never user input.
pub fn set_hidden(c: &Connection, table: Table, id: &str, hidden: bool) -> R<()> {
    let sql = format!("UPDATE {} SET hidden = ?2 WHERE id = ?1", table.name());
    changed(c.execute(&sql, params![id, hidden])?)
}

pub fn delete(c: &Connection, table: Table, id: &str) -> R<()> {
    let sql = format!("DELETE FROM {} WHERE id = ?1", table.name());
    changed(c.execute(&sql, [id])?)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Polls,
    Votes,
    Boards,
    Notes,
}

impl Table {
    pub fn parse(kind: &str) -> Option<Table> {
        match kind {
            "poll" => Some(Table::Polls),
            "vote" => Some(Table::Votes),
            "board" => Some(Table::Boards),
            "note" => Some(Table::Notes),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Table::Polls => "polls",
            Table::Votes => "votes",
            Table::Boards => "boards",
            Table::Notes => "notes",
        }
    }
}

/// Records or replaces this device's vote.
pub fn vote(c: &Connection, poll_id: &str, device: &str, name: &str, ballot: &Ballot) -> R<()> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM votes WHERE poll_id = ?1 AND device != ?2",
        [poll_id, device],
        |r| r.get(0),
    )?;
    if n >= VOTES_PER_POLL {
        return Err(StoreError::TooMany);
    }
    let b = serde_json::to_string(ballot).unwrap_or_default();
    c.execute(
        "INSERT INTO votes (poll_id, device, name, ballot, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (poll_id, device) DO UPDATE SET name = ?3, ballot = ?4, updated_at = ?5",
        params![poll_id, device, name, b, crate::sys::unix_now()],
    )?;
    Ok(())
}

pub fn votes(c: &Connection, poll_id: &str, include_hidden: bool) -> R<Vec<Vote>> {
    let mut st = c.prepare(
        "SELECT id, device, name, ballot, updated_at, hidden FROM votes
         WHERE poll_id = ?1 AND (hidden = 0 OR ?2) ORDER BY id",
    )?;
    let rows = st.query_map(params![poll_id, include_hidden], |r| {
        let b: String = r.get(3)?;
        Ok((
            Vote {
                id: r.get(0)?,
                device: r.get(1)?,
                name: r.get(2)?,
                ballot: Ballot::Choices(vec![]),
                updated_at: r.get(4)?,
                hidden: r.get(5)?,
            },
            b,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut v, b) = row?;
        // A ballot that does not parse (never written by us) is skipped.
        if let Ok(b) = serde_json::from_str(&b) {
            v.ballot = b;
            out.push(v);
        }
    }
    Ok(out)
}

pub fn vote_poll(c: &Connection, vote_id: &str) -> R<String> {
    c.query_row("SELECT poll_id FROM votes WHERE id = ?1", [vote_id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub fn create_board(c: &mut Connection, id: &str, title: &str, columns: &[String]) -> R<()> {
    let tx = c.transaction()?;
    let n: i64 = tx.query_row("SELECT count(*) FROM boards", [], |r| r.get(0))?;
    if n >= BOARDS_MAX {
        return Err(StoreError::TooMany);
    }
    tx.execute(
        "INSERT INTO boards (id, title, created_at) VALUES (?1, ?2, ?3)",
        params![id, title, crate::sys::unix_now()],
    )?;
    for (i, name) in columns.iter().enumerate() {
        tx.execute(
            "INSERT INTO columns (board_id, position, name) VALUES (?1, ?2, ?3)",
            params![id, i as i64, name],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn board_row(r: &Row) -> rusqlite::Result<Board> {
    Ok(Board {
        id: r.get(0)?,
        title: r.get(1)?,
        created_at: r.get(2)?,
        hidden: r.get(3)?,
    })
}

pub fn board(c: &Connection, id: &str, include_hidden: bool) -> R<Board> {
    let b = c
        .query_row(
            "SELECT id, title, created_at, hidden FROM boards WHERE id = ?1",
            [id],
            board_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    if b.hidden && !include_hidden {
        return Err(StoreError::NotFound);
    }
    Ok(b)
}

pub fn boards(c: &Connection, include_hidden: bool, limit: i64) -> R<Vec<Board>> {
    let mut st = c.prepare(
        "SELECT id, title, created_at, hidden FROM boards WHERE hidden = 0 OR ?1
         ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![include_hidden, limit], board_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn columns(c: &Connection, board_id: &str) -> R<Vec<Column>> {
    let mut st =
        c.prepare("SELECT id, name, position FROM columns WHERE board_id = ?1 ORDER BY position")?;
    let rows = st.query_map([board_id], |r| {
        Ok(Column {
            id: r.get(0)?,
            name: r.get(1)?,
            position: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn rename_column(c: &Connection, board_id: &str, column_id: i64, name: &str) -> R<()> {
    changed(c.execute(
        "UPDATE columns SET name = ?3 WHERE board_id = ?1 AND id = ?2",
        params![board_id, column_id, name],
    )?)
}

pub fn notes(c: &Connection, board_id: &str, include_hidden: bool) -> R<Vec<Note>> {
    let mut st = c.prepare(
        "SELECT id, column_id, position, text, color, updated_at, hidden FROM notes
         WHERE board_id = ?1 AND (hidden = 0 OR ?2) ORDER BY column_id, position, id",
    )?;
    let rows = st.query_map(params![board_id, include_hidden], |r| {
        Ok(Note {
            id: r.get(0)?,
            column_id: r.get(1)?,
            position: r.get(2)?,
            text: r.get(3)?,
            color: r.get(4)?,
            updated_at: r.get(5)?,
            hidden: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn column_exists(c: &Connection, board_id: &str, column_id: i64) -> R<()> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM columns WHERE board_id = ?1 AND id = ?2",
        params![board_id, column_id],
        |r| r.get(0),
    )?;
    changed(n as usize)
}

pub fn add_note(
    c: &mut Connection,
    board_id: &str,
    column_id: i64,
    text: &str,
    color: &str,
) -> R<i64> {
    let tx = c.transaction()?;
    column_exists(&tx, board_id, column_id)?;
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM notes WHERE board_id = ?1",
        [board_id],
        |r| r.get(0),
    )?;
    if n >= NOTES_PER_BOARD {
        return Err(StoreError::TooMany);
    }
    let pos: i64 = tx.query_row(
        "SELECT coalesce(max(position) + 1, 0) FROM notes WHERE column_id = ?1",
        [column_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO notes (board_id, column_id, position, text, color, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            board_id,
            column_id,
            pos,
            text,
            color,
            crate::sys::unix_now()
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

pub fn edit_note(c: &Connection, board_id: &str, note_id: i64, text: &str, color: &str) -> R<()> {
    changed(c.execute(
        "UPDATE notes SET text = ?3, color = ?4, updated_at = ?5 WHERE board_id = ?1 AND id = ?2",
        params![board_id, note_id, text, color, crate::sys::unix_now()],
    )?)
}

pub fn delete_note(c: &Connection, board_id: &str, note_id: i64) -> R<()> {
    changed(c.execute(
        "DELETE FROM notes WHERE board_id = ?1 AND id = ?2",
        params![board_id, note_id],
    )?)
}

pub fn note_board(c: &Connection, note_id: &str) -> R<String> {
    c.query_row("SELECT board_id FROM notes WHERE id = ?1", [note_id], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Where a move goes.
pub enum MoveTo {
    /// To `column` at `position` (None: the end).
    Place {
        column: i64,
        position: Option<usize>,
    },
    Up,
    Down,
}

/// Moves a note and renumbers the columns it left and joined.
pub fn move_note(c: &mut Connection, board_id: &str, note_id: i64, to: MoveTo) -> R<()> {
    let tx = c.transaction()?;
    let (from_col, _): (i64, i64) = tx
        .query_row(
            "SELECT column_id, position FROM notes WHERE board_id = ?1 AND id = ?2",
            params![board_id, note_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let ids_in = |col: i64| -> R<Vec<i64>> {
        let mut st =
            tx.prepare("SELECT id FROM notes WHERE column_id = ?1 ORDER BY position, id")?;
        let ids = st.query_map([col], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    };
    let mut from = ids_in(from_col)?;
    let old = from.iter().position(|&i| i == note_id).unwrap_or(0);
    let (to_col, mut list, idx) = match to {
        MoveTo::Up | MoveTo::Down => {
            from.retain(|&i| i != note_id);
            let idx = match to {
                MoveTo::Up => old.saturating_sub(1),
                _ => (old + 1).min(from.len()),
            };
            (from_col, from, idx)
        }
        MoveTo::Place { column, position } => {
            column_exists(&tx, board_id, column)?;
            let mut list = if column == from_col {
                from
            } else {
                let rest: Vec<i64> = from.into_iter().filter(|&i| i != note_id).collect();
                renumber(&tx, &rest)?;
                ids_in(column)?
            };
            list.retain(|&i| i != note_id);
            let idx = position.unwrap_or(list.len()).min(list.len());
            (column, list, idx)
        }
    };
    list.insert(idx, note_id);
    tx.execute(
        "UPDATE notes SET column_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![note_id, to_col, crate::sys::unix_now()],
    )?;
    renumber(&tx, &list)?;
    tx.commit()?;
    Ok(())
}

fn renumber(c: &Connection, ids: &[i64]) -> R<()> {
    for (pos, id) in ids.iter().enumerate() {
        c.execute(
            "UPDATE notes SET position = ?2 WHERE id = ?1",
            params![id, pos as i64],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(c: &Connection, b: &str) -> Vec<(i64, i64)> {
        notes(c, b, true)
            .unwrap()
            .iter()
            .map(|n| (n.column_id, n.id))
            .collect()
    }

    #[test]
    fn notes_move_between_and_within_columns() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::db::open(dir.path()).unwrap();
        create_board(&mut c, "b1", "B", &["one".into(), "two".into()]).unwrap();
        let cols = columns(&c, "b1").unwrap();
        let (c1, c2) = (cols[0].id, cols[1].id);
        let a = add_note(&mut c, "b1", c1, "a", "yellow").unwrap();
        let b = add_note(&mut c, "b1", c1, "b", "yellow").unwrap();
        let d = add_note(&mut c, "b1", c1, "d", "yellow").unwrap();
        move_note(&mut c, "b1", d, MoveTo::Up).unwrap();
        assert_eq!(order(&c, "b1"), vec![(c1, a), (c1, d), (c1, b)]);
        move_note(&mut c, "b1", a, MoveTo::Down).unwrap();
        assert_eq!(order(&c, "b1"), vec![(c1, d), (c1, a), (c1, b)]);
        let place = |column, position| MoveTo::Place { column, position };
        move_note(&mut c, "b1", a, place(c2, None)).unwrap();
        assert_eq!(order(&c, "b1"), vec![(c1, d), (c1, b), (c2, a)]);
        move_note(&mut c, "b1", b, place(c2, Some(0))).unwrap();
        assert_eq!(order(&c, "b1"), vec![(c1, d), (c2, b), (c2, a)]);
        assert!(matches!(
            move_note(&mut c, "b1", b, place(9999, None)),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            add_note(&mut c, "nope", c1, "x", "yellow"),
            Err(StoreError::NotFound)
        ));
    }
}
