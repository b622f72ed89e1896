/* http-throughput-cgi's handler: a plain WASI command in the CGI convention. */
#include <stdio.h>

int main(void) {
  fputs("Content-Type: text/plain\r\nContent-Length: 16\r\n\r\nhello from rusm\n", stdout);
  return 0;
}
