// A CGI route (docs/cgi.md): any WASI command answers HTTP requests. The
// request is in the environment (REQUEST_METHOD, QUERY_STRING, HTTP_*, ...)
// and the body on stdin; the response is a header block, a blank line and
// the body, on stdout.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char* q = getenv("QUERY_STRING");
  printf("Content-Type: text/plain\r\n\r\n");
  printf("Hello from a CGI process (%s %s%s%s)\n", getenv("REQUEST_METHOD"), getenv("SCRIPT_NAME"),
         q != NULL && *q != '\0' ? "?" : "", q != NULL ? q : "");
  return 0;
}
