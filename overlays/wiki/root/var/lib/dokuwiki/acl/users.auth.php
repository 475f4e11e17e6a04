# users.auth.php
# <?php exit()?>
# Don't modify the lines above
#
# Userfile: written by clic (layer wiki), with no account (Debian's
# generated one would hold an "admin" with an empty password). Accounts
# made from the register page are added here.
#
# Format:
# login:passwordhash:Real Name:email:groups,comma,separated
