# no #! line: the kernel cannot run this file, so the procedure cannot start
echo never
