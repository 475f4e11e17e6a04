//! The console's words, French first, English too. Pure.

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
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
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// (key, French, English)
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "Administration de la boîte", "Box administration"),
    ("lang_switch", "English", "Français"),
    ("password", "Mot de passe administrateur", "Administrator password"),
    ("password_where", "Il est sur la carte SD (fichier clic-admin-password.txt) et à l'écran de la boîte au premier démarrage.", "It is on the SD card (file clic-admin-password.txt) and on the box's screen at first boot."),
    ("login", "Se connecter", "Log in"),
    ("logout", "Se déconnecter", "Log out"),
    ("err_login", "Mot de passe incorrect.", "Wrong password."),
    ("err_wait", "Trop d'essais : attendez {} s avant de réessayer.", "Too many attempts: wait {} s before trying again."),
    ("err_reach", "Cette page n'est ouverte qu'aux appareils du réseau local de la boîte.", "This page is only open to devices on the box's local network."),
    ("err_csrf", "Formulaire périmé ou venu d'ailleurs : rechargez la page et recommencez.", "Stale form or one from elsewhere: reload the page and try again."),
    ("err_login_needed", "Connectez-vous d'abord.", "Log in first."),
    ("err_bad_request", "Requête incorrecte.", "Bad request."),
    ("err_internal", "Erreur interne de la boîte (détails dans le journal).", "Internal error of the box (details in the log)."),
    ("err_not_found", "Page introuvable.", "Page not found."),
    ("back", "Retour", "Back"),
    ("status", "État de la boîte", "Box status"),
    ("services", "Services", "Services"),
    ("up", "en marche", "running"),
    ("down", "arrêté", "stopped"),
    ("restart", "Redémarrer", "Restart"),
    ("restarted", "Service redémarré :", "Service restarted:"),
    ("wifi_clients", "Appareils connectés au Wi-Fi", "Devices on the Wi-Fi"),
    ("now", "maintenant", "now"),
    ("today", "sur 24 h", "last 24 h"),
    ("disk", "Carte / disque", "Card / disk"),
    ("free", "libres sur", "free of"),
    ("disk_low", "Presque plein : libérez de la place.", "Nearly full: free some space."),
    ("memory", "Mémoire disponible", "Memory available"),
    ("temperature", "Température", "Temperature"),
    ("uptime", "Allumée depuis", "Up for"),
    ("load", "Charge", "Load"),
    ("image", "Image", "Image"),
    ("clock", "Horloge", "Clock"),
    ("clock_help", "Sans internet ni pile d'horloge, la boîte ne connaît pas l'heure : donnez-lui celle de votre téléphone.", "Without internet or a clock battery the box does not know the time: give it your phone's."),
    ("clock_set", "Mettre la boîte à cette heure", "Set the box to this time"),
    ("clock_done", "Horloge réglée :", "Clock set:"),
    ("err_clock", "Date ou heure invalide.", "Invalid date or time."),
    ("settings", "Réglages", "Settings"),
    ("ssid", "Nom du réseau Wi-Fi", "Wi-Fi network name"),
    ("passphrase", "Mot de passe du Wi-Fi (vide : le garder)", "Wi-Fi password (empty: keep it)"),
    ("open", "Réseau ouvert, sans mot de passe", "Open network, no password"),
    ("channel", "Canal", "Channel"),
    ("country", "Pays (deux lettres)", "Country (two letters)"),
    ("timezone", "Fuseau horaire", "Time zone"),
    ("portal_title", "Nom de la boîte (en haut de chaque page)", "Name of the box (at the top of every page)"),
    ("welcome", "Phrase d'accueil, en français", "Welcome sentence, in French"),
    ("welcome_en", "Phrase d'accueil, en anglais", "Welcome sentence, in English"),
    ("home_lang", "Langue de la page d'accueil", "Language of the home page"),
    ("save", "Enregistrer", "Save"),
    ("nothing_changed", "Rien n'a changé.", "Nothing changed."),
    ("refused", "Réglage refusé, rien n'a été changé :", "Setting refused, nothing was changed:"),
    ("applied", "Réglages appliqués.", "Settings applied."),
    ("confirm_help", "Le Wi-Fi redémarre. Reconnectez votre téléphone au réseau « {} », rouvrez cette page et confirmez dans la minute : sinon la boîte revient d'elle-même à l'ancien réglage.", "The Wi-Fi restarts. Reconnect your phone to the network \"{}\", open this page again and confirm within a minute: otherwise the box goes back to the old setting by itself."),
    ("confirm", "Confirmer le nouveau Wi-Fi", "Confirm the new Wi-Fi"),
    ("confirmed", "Nouveau Wi-Fi confirmé.", "New Wi-Fi confirmed."),
    ("pending", "Changement de Wi-Fi à confirmer", "Wi-Fi change to confirm"),
    ("change_password", "Changer le mot de passe administrateur", "Change the administrator password"),
    ("current_password", "Mot de passe actuel", "Current password"),
    ("new_password", "Nouveau mot de passe (10 caractères au moins)", "New password (at least 10 characters)"),
    ("again", "Nouveau mot de passe, encore", "New password, again"),
    ("err_password_short", "Le nouveau mot de passe doit avoir de 10 à 128 caractères, sans retour à la ligne.", "The new password must have 10 to 128 characters, no line break."),
    ("err_password_differ", "Les deux nouveaux mots de passe diffèrent.", "The two new passwords differ."),
    ("password_changed", "Mot de passe changé. Le fichier clic-admin-password.txt de la carte ne le contient pas : notez-le.", "Password changed. The card's clic-admin-password.txt file does not hold it: write it down."),
    ("participation", "Participation", "Participation"),
    ("agora_admin", "Modérer les sondages et tableaux", "Moderate polls and boards"),
    ("backup_what", "Une sauvegarde contient les données de :", "A backup holds the data of:"),
    ("backup", "Télécharger une sauvegarde", "Download a backup"),
    ("restore_file", "Fichier de sauvegarde (.tar)", "Backup file (.tar)"),
    ("restore_warning", "Restaurer remplace les sondages, pages et comptes actuels par ceux de la sauvegarde. Le fichier est vérifié en entier avant tout changement.", "Restoring replaces the current polls, pages and accounts with those of the backup. The whole file is checked before anything changes."),
    ("restore", "Restaurer la sauvegarde", "Restore the backup"),
    ("restored", "Sauvegarde restaurée :", "Backup restored:"),
    ("restore_skipped", "Non restauré (absent de cette boîte) : {}.", "Not restored (not on this box): {}."),
    ("backup_busy", "Une sauvegarde ou une restauration est déjà en cours : réessayez dans une minute.", "A backup or a restore is already running: try again in a minute."),
    ("err_backup", "La sauvegarde n'a pas pu être faite :", "The backup could not be made:"),
    ("err_backup_space", "Pas assez de place libre sur la boîte pour recevoir ce fichier. Rien n'a été changé.", "Not enough free space on the box for this file. Nothing was changed."),
    ("err_restore", "Ce fichier n'est pas une sauvegarde utilisable. Rien n'a été changé :", "This file is not a usable backup. Nothing was changed:"),
    ("err_restore_failed", "La restauration a échoué ; les données d'avant ont été remises :", "The restore failed; the data from before was put back:"),
    ("power", "Alimentation", "Power"),
    ("reboot", "Redémarrer la boîte", "Restart the box"),
    ("poweroff", "Éteindre proprement", "Shut down safely"),
    ("rebooting", "La boîte redémarre : revenez dans deux minutes.", "The box is restarting: come back in two minutes."),
    ("powering_off", "La boîte s'éteint. Attendez une vingtaine de secondes, que la lumière verte ne clignote plus ou que l'écran dise « vous pouvez la débrancher », avant de la débrancher.", "The box is shutting down. Wait about 20 seconds, until the green light stops blinking or the screen says \"safe to unplug\", before unplugging it."),
    ("poster", "Affiche Wi-Fi à imprimer", "Wi-Fi poster to print"),
    ("diagnostics", "Diagnostic (journal et réglages, sans secrets) à envoyer à qui vous aide", "Diagnostics (log and settings, no secrets) to send to whoever helps you"),
    ("days", "j", "d"),
    ("usb", "Contenus depuis une clé USB", "Content from a USB stick"),
    ("usb_none", "Aucune clé USB branchée : branchez-en une puis rechargez la page.", "No USB stick plugged in: plug one in, then reload the page."),
    ("usb_open", "Ouvrir la clé", "Open the stick"),
    ("usb_cannot_open", "Cette clé ne peut pas être ouverte (débranchée, ou système de fichiers inconnu).", "This stick cannot be opened (unplugged, or an unknown filesystem)."),
    ("usb_nothing", "Rien à importer sur cette clé.", "Nothing to import on this stick."),
    ("usb_import", "Importer sur la boîte", "Import to the box"),
    ("usb_copying", "Copie et vérification en cours :", "Copying and checking:"),
    ("usb_done", "Import terminé, la clé peut être retirée.", "Import done, the stick can be removed."),
    ("usb_eject", "Éjecter la clé", "Eject the stick"),
    ("usb_on_box", "Sur la boîte", "On the box"),
    ("usb_remove", "Supprimer", "Remove"),
    ("usb_pack", "paquet vérifié (SHA256SUMS)", "checked pack (SHA256SUMS)"),
    ("usb_file", "fichier", "file"),
    ("usb_folder", "dossier", "folder"),
];

pub fn t(l: Lang, key: &str) -> &'static str {
    WORDS
        .iter()
        .find(|w| w.0 == key)
        .map(|w| match l {
            Lang::Fr => w.1,
            Lang::En => w.2,
        })
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_in_both_languages() {
        for (k, fr, en) in WORDS {
            assert!(!fr.is_empty() && !en.is_empty(), "{k}");
            assert_eq!(fr.matches("{}").count(), en.matches("{}").count(), "{k}");
        }
        let mut keys: Vec<&str> = WORDS.iter().map(|w| w.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "a key twice");
    }
}
