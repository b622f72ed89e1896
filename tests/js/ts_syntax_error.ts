// A syntax error on line 3.
const ok: number = 1;
const broken: number = (1 + ;
