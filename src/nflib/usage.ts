/** The usage line of `nfchain nf` (the CLI's help and the runner's errors show it). */
export const NF_USAGE = 'nfchain nf <module.ts|.js> --service N [--instance I] [--name MANAGER] [--label L] [--base-dir D] [--ttl S] [--limit N] [--poll busy|adaptive] [--manager-wait S] [-- --option value ...]';
