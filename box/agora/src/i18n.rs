//! Every user-facing string, one table per language. Pure data and lookup.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }
}

/// Looks a key up; an unknown key shows itself (a test keeps the tables complete).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    let table = match lang {
        Lang::Fr => FR,
        Lang::En => EN,
    };
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or(key)
}

pub const FR: &[(&str, &str)] = &[
    ("app", "Agora"),
    ("tagline", "Sondages, votes et tableaux de post-it de la boîte"),
    ("lang_switch", "English"),
    ("home", "Accueil"),
    ("polls", "Sondages"),
    ("boards", "Tableaux"),
    ("new_poll", "Nouveau sondage"),
    ("new_board", "Nouveau tableau"),
    ("none_yet", "Rien pour l'instant."),
    ("title", "Titre"),
    ("description", "Description (facultative)"),
    ("kind", "Type de sondage"),
    ("kind_single", "Choix unique"),
    ("kind_multiple", "Choix multiple"),
    ("kind_approval", "Vote par approbation"),
    ("kind_ranked", "Vote par classement"),
    ("kind_date", "Trouver une date"),
    ("options", "Options, une par ligne (pour une date : AAAA-MM-JJ ou AAAA-MM-JJ HH:MM)"),
    ("max_choices", "Nombre maximum de choix (choix multiple, vide = sans limite)"),
    ("closes_at", "Fermeture automatique (facultative, heure de la boîte)"),
    ("create", "Créer"),
    ("created", "Sondage créé"),
    ("edit_link_note", "Gardez ce lien secret : il est montré une seule fois et permet de modifier, fermer ou supprimer le sondage."),
    ("edit_link", "Lien de modification"),
    ("poll_link", "Lien du sondage à partager"),
    ("your_name", "Votre nom (facultatif)"),
    ("vote", "Voter"),
    ("your_vote_saved", "Vous avez déjà voté depuis cet appareil ; voter à nouveau remplace votre vote."),
    ("results", "Résultats"),
    ("voters", "Votants"),
    ("colon", " : "),
    ("name", "Nom"),
    ("closed", "Ce sondage est fermé."),
    ("closes_on", "Fermeture le"),
    ("rank", "Rang"),
    ("unranked", "non classé"),
    ("yes", "Oui"),
    ("maybe", "Si besoin"),
    ("no", "Non"),
    ("best_dates", "Meilleures dates"),
    ("method_count", "Décompte : nombre de voix par option."),
    ("method_approval", "Décompte : nombre d'approbations par option."),
    ("method_schulze", "Méthode de Schulze (Condorcet) : une option est devant une autre si plus de votants la préfèrent, en suivant les chaînes de préférences les plus fortes. Les options non classées viennent après les classées."),
    ("method_date", "Classement : nombre de « oui » + « si besoin », puis nombre de « oui »."),
    ("pick_max", "choix au plus"),
    ("export", "Exporter"),
    ("edit_poll", "Modifier le sondage"),
    ("save", "Enregistrer"),
    ("close", "Fermer le sondage"),
    ("reopen", "Rouvrir le sondage"),
    ("delete", "Supprimer"),
    ("delete_poll", "Supprimer le sondage"),
    ("columns", "Colonnes, une par ligne"),
    ("default_columns", "Idées\nÀ faire\nFait"),
    ("add_note", "Ajouter une note"),
    ("note_text", "Texte de la note"),
    ("color", "Couleur"),
    ("color_yellow", "Jaune"),
    ("color_green", "Vert"),
    ("color_blue", "Bleu"),
    ("color_pink", "Rose"),
    ("color_orange", "Orange"),
    ("color_white", "Blanc"),
    ("move_to", "Déplacer vers"),
    ("position", "Position (0 = en haut, vide = en bas)"),
    ("move", "Déplacer"),
    ("up", "Monter"),
    ("down", "Descendre"),
    ("rename", "Renommer"),
    ("column_name", "Nom de la colonne"),
    ("edit", "Modifier"),
    ("live", "Mises à jour en direct"),
    ("admin", "Modération"),
    ("password", "Mot de passe"),
    ("login", "Se connecter"),
    ("logout", "Se déconnecter"),
    ("admin_unavailable", "La modération n'est pas disponible sur cette boîte (aucun mot de passe d'administration)."),
    ("hide", "Masquer"),
    ("unhide", "Afficher"),
    ("hidden", "masqué"),
    ("backup", "Télécharger une sauvegarde"),
    ("restore", "Restaurer une sauvegarde"),
    ("restore_file", "Fichier de sauvegarde"),
    ("restored", "Sauvegarde restaurée."),
    ("votes", "Votes"),
    ("anonymous", "anonyme"),
    ("notes", "notes"),
    ("back", "Retour"),
    ("error", "Erreur"),
    ("err_bad_request", "Requête invalide."),
    ("err_csrf", "Ce formulaire a expiré ou vient d'un autre site. Rechargez la page et recommencez."),
    ("err_no_cookie", "Votre navigateur doit accepter les cookies de ce site pour participer. Rechargez la page et recommencez."),
    ("err_utf8", "Le texte envoyé n'est pas valide (encodage)."),
    ("err_not_found", "Cette page n'existe pas (ou plus)."),
    ("err_too_large", "Envoi trop volumineux."),
    ("err_empty", "Un champ obligatoire est vide."),
    ("err_too_long", "Un texte est trop long."),
    ("err_too_many", "Trop d'éléments : la limite est atteinte."),
    ("err_options", "Il faut entre 2 et 50 options, toutes différentes."),
    ("err_columns", "Il faut entre 1 et 12 colonnes, toutes différentes."),
    ("err_date", "Les dates doivent être au format AAAA-MM-JJ ou AAAA-MM-JJ HH:MM."),
    ("err_ballot", "Ce vote n'est pas valide pour ce sondage."),
    ("err_closed", "Ce sondage est fermé : les votes ne sont plus acceptés."),
    ("err_invalid", "Une valeur n'est pas valide."),
    ("err_rate", "Trop de demandes depuis votre appareil. Attendez une minute puis recommencez."),
    ("err_disk", "La boîte n'a plus assez de place libre : les nouveaux envois sont refusés pour l'instant. Tout reste consultable."),
    ("err_login", "Mot de passe incorrect."),
    ("err_forbidden", "Réservé à la modération : connectez-vous."),
    ("err_restore", "Ce fichier n'est pas une sauvegarde d'agora valide. Rien n'a été changé."),
    ("err_internal", "Erreur interne. Réessayez plus tard."),
];

pub const EN: &[(&str, &str)] = &[
    ("app", "Agora"),
    ("tagline", "Polls, votes and sticky-note boards on this box"),
    ("lang_switch", "Français"),
    ("home", "Home"),
    ("polls", "Polls"),
    ("boards", "Boards"),
    ("new_poll", "New poll"),
    ("new_board", "New board"),
    ("none_yet", "Nothing yet."),
    ("title", "Title"),
    ("description", "Description (optional)"),
    ("kind", "Kind of poll"),
    ("kind_single", "Single choice"),
    ("kind_multiple", "Multiple choice"),
    ("kind_approval", "Approval vote"),
    ("kind_ranked", "Ranked vote"),
    ("kind_date", "Find a date"),
    ("options", "Options, one per line (for a date: YYYY-MM-DD or YYYY-MM-DD HH:MM)"),
    ("max_choices", "Most choices allowed (multiple choice, empty = no limit)"),
    ("closes_at", "Closes automatically (optional, box time)"),
    ("create", "Create"),
    ("created", "Poll created"),
    ("edit_link_note", "Keep this link secret: it is shown only once and lets you edit, close or delete the poll."),
    ("edit_link", "Edit link"),
    ("poll_link", "Poll link to share"),
    ("your_name", "Your name (optional)"),
    ("vote", "Vote"),
    ("your_vote_saved", "You already voted from this device; voting again replaces your vote."),
    ("results", "Results"),
    ("voters", "Voters"),
    ("colon", ": "),
    ("name", "Name"),
    ("closed", "This poll is closed."),
    ("closes_on", "Closes on"),
    ("rank", "Rank"),
    ("unranked", "unranked"),
    ("yes", "Yes"),
    ("maybe", "If need be"),
    ("no", "No"),
    ("best_dates", "Best dates"),
    ("method_count", "Count: number of votes per option."),
    ("method_approval", "Count: number of approvals per option."),
    ("method_schulze", "Schulze method (Condorcet): an option is ahead of another when more voters prefer it, following the strongest chains of preferences. Unranked options come after ranked ones."),
    ("method_date", "Order: number of \"yes\" + \"if need be\", then number of \"yes\"."),
    ("pick_max", "choices at most"),
    ("export", "Export"),
    ("edit_poll", "Edit the poll"),
    ("save", "Save"),
    ("close", "Close the poll"),
    ("reopen", "Reopen the poll"),
    ("delete", "Delete"),
    ("delete_poll", "Delete the poll"),
    ("columns", "Columns, one per line"),
    ("default_columns", "Ideas\nTo do\nDone"),
    ("add_note", "Add a note"),
    ("note_text", "Note text"),
    ("color", "Colour"),
    ("color_yellow", "Yellow"),
    ("color_green", "Green"),
    ("color_blue", "Blue"),
    ("color_pink", "Pink"),
    ("color_orange", "Orange"),
    ("color_white", "White"),
    ("move_to", "Move to"),
    ("position", "Position (0 = top, empty = bottom)"),
    ("move", "Move"),
    ("up", "Up"),
    ("down", "Down"),
    ("rename", "Rename"),
    ("column_name", "Column name"),
    ("edit", "Edit"),
    ("live", "Live updates"),
    ("admin", "Moderation"),
    ("password", "Password"),
    ("login", "Log in"),
    ("logout", "Log out"),
    ("admin_unavailable", "Moderation is not available on this box (no administration password)."),
    ("hide", "Hide"),
    ("unhide", "Show"),
    ("hidden", "hidden"),
    ("backup", "Download a backup"),
    ("restore", "Restore a backup"),
    ("restore_file", "Backup file"),
    ("restored", "Backup restored."),
    ("votes", "Votes"),
    ("anonymous", "anonymous"),
    ("notes", "notes"),
    ("back", "Back"),
    ("error", "Error"),
    ("err_bad_request", "Invalid request."),
    ("err_csrf", "This form has expired or comes from another site. Reload the page and try again."),
    ("err_no_cookie", "Your browser must accept this site's cookies to take part. Reload the page and try again."),
    ("err_utf8", "The text sent is not valid (encoding)."),
    ("err_not_found", "This page does not exist (any more)."),
    ("err_too_large", "What you sent is too large."),
    ("err_empty", "A required field is empty."),
    ("err_too_long", "A text is too long."),
    ("err_too_many", "Too many items: the limit is reached."),
    ("err_options", "A poll needs between 2 and 50 options, all different."),
    ("err_columns", "A board needs between 1 and 12 columns, all different."),
    ("err_date", "Dates must be written YYYY-MM-DD or YYYY-MM-DD HH:MM."),
    ("err_ballot", "This vote is not valid for this poll."),
    ("err_closed", "This poll is closed: votes are no longer accepted."),
    ("err_invalid", "A value is not valid."),
    ("err_rate", "Too many requests from your device. Wait a minute and try again."),
    ("err_disk", "The box is running out of free space: new posts are refused for now. Everything stays readable."),
    ("err_login", "Wrong password."),
    ("err_forbidden", "Moderation only: please log in."),
    ("err_restore", "This file is not a valid agora backup. Nothing was changed."),
    ("err_internal", "Internal error. Try again later."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_same_keys_once_each() {
        let fr: Vec<_> = FR.iter().map(|(k, _)| *k).collect();
        let en: Vec<_> = EN.iter().map(|(k, _)| *k).collect();
        assert_eq!(fr, en);
        let mut sorted = fr.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), fr.len(), "a key appears twice");
    }

    #[test]
    fn lookup_and_languages() {
        assert_eq!(t(Lang::Fr, "yes"), "Oui");
        assert_eq!(t(Lang::En, "yes"), "Yes");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::Fr.other(), Lang::En);
    }
}
