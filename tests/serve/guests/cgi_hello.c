// The smallest CGI program: a header block, a blank line, a body.
#include <stdio.h>

int main(void) {
  printf("Content-Type: text/plain\r\n\r\nhello from cgi\n");
  return 0;
}
